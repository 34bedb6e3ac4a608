#!/usr/bin/env bash
# Classifies the whole bounce corpus (Sisimai's bsd/, dos/, mac/ and not/,
# and flufl's messages) with `mailtrail classify --json` and with Sisimai 4
# (Debian's libsisimai-perl) in the same run, scores both against the
# expected tables the same way (score.py) and prints the speed ratio.
#
# Both tools read the same files, listed once, and write one JSON line per
# file; the time is the whole command (process start, reading, parsing,
# classifying, printing). Each tool's figure is its best run: mailtrail's of
# 10 (it takes a few hundredths of a second, so one run is mostly the
# machine's noise), Sisimai's of 3. Wall time is the ratio the issue names;
# CPU time (user + system, from bash's `time`, which forks nothing) is
# printed beside it because it moves less with the machine's load. Only
# the command is timed: the file list is read before, and no other process
# runs inside the timed span.
#
# usage: benches/classify/run.sh [CORPORA_DIR]   (default: ../shared/corpora)
set -euo pipefail
# $EPOCHREALTIME and awk both read numbers with a dot.
export LC_NUMERIC=C
root=$(cd "$(dirname "$0")/../.." && pwd)
corpora=${1:-${MAILTRAIL_CORPORA:-$root/../shared/corpora}}
corpora=$(cd "$corpora" && pwd)
here="$root/benches/classify"
# Scratch (the file list and both tools' output) in memory when the machine
# has a tmpfs: on the disk, the kernel's writeback of one run's output
# competes with the next timed run for the CPUs, which costs a tool using
# every core (mailtrail) a core and a single-threaded one (Sisimai) nothing.
out=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
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

# best_of N OUTPUT COMMAND...: runs COMMAND N times (stdout to OUTPUT) and
# sets best_wall and best_cpu (seconds) to the smallest of each.
best_of() {
    local n=$1 output=$2 t0 t1 u s
    shift 2
    best_wall="" best_cpu=""
    for _ in $(seq "$n"); do
        t0=$EPOCHREALTIME
        { time "$@" > "$output"; } 2> "$out/time"
        t1=$EPOCHREALTIME
        read -r u s < "$out/time"
        best_wall=$(awk -v a="$t0" -v b="$t1" -v m="$best_wall" 'BEGIN { d = b - a; print (m == "" || d < m) ? d : m }')
        best_cpu=$(awk -v a="$u" -v b="$s" -v m="$best_cpu" 'BEGIN { c = a + b; print (m == "" || c < m) ? c : m }')
    done
}
# Wall time from $EPOCHREALTIME (microseconds); CPU time from `time`
# (milliseconds).
TIMEFORMAT='%3U %3S'
best_of 10 "$out/ours.jsonl" "$ours" classify --json "${files[@]}"
ours_wall=$best_wall ours_cpu=$best_cpu
best_of 3 "$out/sisimai.jsonl" perl "$here/sisimai.pl" "${files[@]}"
sis_wall=$best_wall sis_cpu=$best_cpu

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
awk -v m="$ours_wall" -v s="$sis_wall" -v mc="$ours_cpu" -v sc="$sis_cpu" -v n="$nfiles" 'BEGIN {
    printf "time (%d files, best runs): mailtrail %.3fs, Sisimai %.3fs, ratio %.1fx\n", n, m, s, (m > 0 ? s / m : 0)
    printf "cpu (user+system, best runs): mailtrail %.3fs, Sisimai %.3fs, ratio %.1fx\n", mc, sc, (mc > 0 ? sc / mc : 0)
}'
