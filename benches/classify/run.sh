#!/bin/sh
# Classifies the Sisimai and flufl bounce corpora with mailtrail and with
# Sisimai 4 (Debian's libsisimai-perl) in the same run, scores both against
# the expected tables the same way (score.py) and prints the speed ratio.
#
# usage: benches/classify/run.sh [CORPORA_DIR]   (default: ../shared/corpora)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
corpora=${1:-${MAILTRAIL_CORPORA:-$root/../shared/corpora}}
here="$root/benches/classify"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

[ -d "$corpora/bounces/sisimai/bsd" ] || { echo "corpus missing: $corpora/bounces/sisimai/bsd" >&2; exit 1; }
if ! perl -MSisimai -e 1 2>/dev/null; then
    apt-get install -y libsisimai-perl >/dev/null
fi

cd "$root"
# The `mailtrail classify --json` command when it exists, else the example.
if "$root/target/release/mailtrail" classify --help >/dev/null 2>&1; then
    ours="$root/target/release/mailtrail classify --json"
else
    cargo build -q --release -p mailtrail-mail --example classify
    ours="$root/target/release/examples/classify"
fi

now() { date +%s.%N; }

cd "$corpora/bounces"
t0=$(now)
$ours sisimai/bsd > "$out/ours-bsd.jsonl"
$ours flufl > "$out/ours-flufl.jsonl"
t1=$(now)
perl "$here/sisimai.pl" sisimai/bsd/* > "$out/sisimai-bsd.jsonl"
perl "$here/sisimai.pl" flufl/*.txt > "$out/sisimai-flufl.jsonl"
t2=$(now)

echo "mailtrail ($ours):"
python3 "$here/score.py" "$corpora" "$out/ours-bsd.jsonl" "$out/ours-flufl.jsonl"
echo "Sisimai $(perl -MSisimai -e 'print Sisimai->version'):"
python3 "$here/score.py" "$corpora" "$out/sisimai-bsd.jsonl" "$out/sisimai-flufl.jsonl"
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
    m = b - a; s = c - b;
    printf "time: mailtrail %.3fs, Sisimai %.3fs, ratio %.1fx\n", m, s, (m > 0 ? s / m : 0)
}'
