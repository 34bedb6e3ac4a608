#!/usr/bin/env bash
# Classifies the whole bounce corpus (Sisimai's bsd/, dos/, mac/ and not/,
# and flufl's messages) with `mailtrail classify --json` and with Sisimai 4
# (Debian's libsisimai-perl) in the same run, scores both against the
# expected tables the same way (score.py) and prints the speed ratio.
#
# Both tools read the same files, listed once, and write one JSON line per
# file; the time is the whole command (process start, reading, parsing,
# classifying, printing). mailtrail's time is the best of 3 runs (it takes a
# fraction of a second, so one run is mostly noise); Sisimai's is one run.
# Only the command is timed: the file list is read before, and the clock is
# bash's $EPOCHREALTIME, not a `date` process (a `cat` and two `date`
# processes inside the timed span added about 2.5 ms to every mailtrail
# figure, a sixth of it).
#
# usage: benches/classify/run.sh [CORPORA_DIR]   (default: ../shared/corpora)
set -euo pipefail
# $EPOCHREALTIME and awk both read numbers with a dot.
export LC_NUMERIC=C
root=$(cd "$(dirname "$0")/../.." && pwd)
corpora=${1:-${MAILTRAIL_CORPORA:-$root/../shared/corpora}}
corpora=$(cd "$corpora" && pwd)
here="$root/benches/classify"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

[ -d "$corpora/bounces/sisimai/bsd" ] || { echo "corpus missing: $corpora/bounces/sisimai/bsd" >&2; exit 1; }
if ! perl -MSisimai -e 1 2>/dev/null; then
    apt-get install -y libsisimai-perl >/dev/null
fi

cd "$root"
cargo build -q --release --bin mailtrail
ours="$root/target/release/mailtrail"


cd "$corpora/bounces"
find sisimai/bsd sisimai/dos sisimai/mac sisimai/not flufl -type f \
    ! -name LICENSE ! -name '*.tsv' | LC_ALL=C sort > "$out/files"
nfiles=$(wc -l < "$out/files")
mapfile -t files < "$out/files"

best=""
for _ in 1 2 3; do
    t0=$EPOCHREALTIME
    "$ours" classify --json "${files[@]}" > "$out/ours.jsonl"
    t1=$EPOCHREALTIME
    best=$(awk -v a="$t0" -v b="$t1" -v m="$best" 'BEGIN { d = b - a; print (m == "" || d < m) ? d : m }')
done
t0=$EPOCHREALTIME
perl "$here/sisimai.pl" < "$out/files" > "$out/sisimai.jsonl"
t1=$EPOCHREALTIME
sis=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

split() { grep -aF "\"file\":\"$2" "$1" || true; }
for t in ours sisimai; do
    split "$out/$t.jsonl" sisimai/bsd/ > "$out/$t-bsd.jsonl"
    split "$out/$t.jsonl" flufl/ > "$out/$t-flufl.jsonl"
    split "$out/$t.jsonl" sisimai/not/ > "$out/$t-not.jsonl"
done

echo "corpus: $nfiles files"
echo "mailtrail ($ours classify --json):"
python3 "$here/score.py" "$corpora" "$out/ours-bsd.jsonl" "$out/ours-flufl.jsonl" "$out/ours-not.jsonl"
echo "Sisimai $(perl -MSisimai -e 'print Sisimai->version'):"
python3 "$here/score.py" "$corpora" "$out/sisimai-bsd.jsonl" "$out/sisimai-flufl.jsonl" "$out/sisimai-not.jsonl"
awk -v m="$best" -v s="$sis" -v n="$nfiles" 'BEGIN {
    printf "time (%d files): mailtrail %.3fs (best of 3), Sisimai %.3fs, ratio %.1fx\n", n, m, s, (m > 0 ? s / m : 0)
}'
