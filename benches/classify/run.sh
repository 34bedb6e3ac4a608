#!/usr/bin/env bash
# Classifies the whole bounce corpus (Sisimai's bsd/, dos/, mac/ and not/,
# and flufl's messages) with `mailtrail classify --json` and with Sisimai 4
# (Debian's libsisimai-perl) in the same run, scores both against the
# expected tables the same way (score.py) and prints the speed ratio.
#
# Both tools read the same files, listed once, and write one JSON line per
# file; the time is the whole command (process start, reading, parsing,
# classifying, printing). The runs are interleaved, five rounds of four
# mailtrail runs and one Sisimai run, so that both tools are sampled over
# the same stretch of time: on a shared VM the machine's speed drifts by
# tens of percent from one minute to the next, and timing one tool after
# the other compared two different machines. Printed for each tool: its
# best run and its median run (20 of mailtrail, which takes a few
# hundredths of a second, so one run is mostly the machine's noise; 5 of
# Sisimai), and the ratios of both. Wall time is the ratio the issue
# names; CPU time (user + system, from bash's `time`, which forks nothing)
# is printed beside it because it moves less with the machine's load.
# Only the command is timed: the file list is read before, and no other
# process runs inside the timed span.
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
if ! perl -MSisimai -e 1 2>/dev/null || ! perl -MJSON::XS -e 1 2>/dev/null; then
    # On a fresh machine the package lists may not be there yet.
    apt-get install -y libsisimai-perl libjson-xs-perl >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y libsisimai-perl libjson-xs-perl >/dev/null; }
fi

cd "$root"
cargo build -q --release --bin mailtrail
ours="$root/target/release/mailtrail"


cd "$corpora/bounces"
find sisimai/bsd sisimai/dos sisimai/mac sisimai/not flufl -type f \
    ! -name LICENSE ! -name '*.tsv' | LC_ALL=C sort > "$out/files"
nfiles=$(wc -l < "$out/files")
mapfile -t files < "$out/files"

# timed TOOL OUTPUT COMMAND...: runs COMMAND once (stdout to OUTPUT) and
# appends its wall and CPU seconds to $out/TOOL.wall and $out/TOOL.cpu.
timed() {
    local tool=$1 output=$2 t0 t1 u s
    shift 2
    t0=$EPOCHREALTIME
    { time "$@" > "$output"; } 2> "$out/time"
    t1=$EPOCHREALTIME
    read -r u s < "$out/time"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >> "$out/$tool.wall"
    awk -v a="$u" -v b="$s" 'BEGIN { printf "%.3f\n", a + b }' >> "$out/$tool.cpu"
}
# Wall time from $EPOCHREALTIME (microseconds); CPU time from `time`
# (milliseconds).
TIMEFORMAT='%3U %3S'
for _ in 1 2 3 4 5; do
    for _ in 1 2 3 4; do
        timed ours "$out/ours.jsonl" "$ours" classify --json "${files[@]}"
    done
    timed sisimai "$out/sisimai.jsonl" perl "$here/sisimai.pl" "${files[@]}"
done
# best_median FILE: the smallest and the median of the numbers in FILE.
best_median() {
    sort -g "$1" | awk '{ v[NR] = $1 } END { print v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
read -r ours_wall ours_wall_median < <(best_median "$out/ours.wall")
read -r ours_cpu ours_cpu_median < <(best_median "$out/ours.cpu")
read -r sis_wall sis_wall_median < <(best_median "$out/sisimai.wall")
read -r sis_cpu sis_cpu_median < <(best_median "$out/sisimai.cpu")

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
awk -v m="$ours_wall" -v s="$sis_wall" -v mc="$ours_cpu" -v sc="$sis_cpu" \
    -v mm="$ours_wall_median" -v sm="$sis_wall_median" -v mcm="$ours_cpu_median" -v scm="$sis_cpu_median" \
    -v n="$nfiles" 'BEGIN {
    printf "time (%d files, best runs): mailtrail %.4fs, Sisimai %.3fs, ratio %.1fx\n", n, m, s, (m > 0 ? s / m : 0)
    printf "time (%d files, median runs): mailtrail %.4fs, Sisimai %.3fs, ratio %.1fx\n", n, mm, sm, (mm > 0 ? sm / mm : 0)
    printf "cpu (user+system, best runs): mailtrail %.3fs, Sisimai %.3fs, ratio %.1fx\n", mc, sc, (mc > 0 ? sc / mc : 0)
    printf "cpu (user+system, median runs): mailtrail %.3fs, Sisimai %.3fs, ratio %.1fx\n", mcm, scm, (mcm > 0 ? scm / mcm : 0)
}'
