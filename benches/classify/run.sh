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
# names; CPU time (user + system of the child, from wait4) is printed
# beside it because it moves less with the machine's load. Only the
# command is timed: each run is spawned directly (timed.py, as
# `hyperfine -N` does; bash's fork of itself cost 1.2 ms a run here), the
# file list is read before, and no other process runs inside the timed
# span.
#
# usage: benches/classify/run.sh [CORPORA_DIR]   (default: ../shared/corpora)
set -euo pipefail
# awk reads and prints numbers with a dot.
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

# Five rounds of four mailtrail runs, one Sisimai run and four runs of
# `/bin/true` with the same arguments (the floor: what starting any
# command and reaping it costs here, printed so that a reader can see how
# much of mailtrail's time it is). timed.py spawns each run directly, as
# `hyperfine -N` does, and says why.
perl=$(command -v perl)
python3 "$here/timed.py" "$out" "$out/files" 5 \
    "ours:4:$ours,classify,--json" \
    "sisimai:1:$perl,$here/sisimai.pl" \
    "floor:4:/bin/true"
# best_median FILE: the smallest and the median of the numbers in FILE.
best_median() {
    sort -g "$1" | awk '{ v[NR] = $1 } END { print v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
read -r ours_wall ours_wall_median < <(best_median "$out/ours.wall")
read -r ours_cpu ours_cpu_median < <(best_median "$out/ours.cpu")
read -r sis_wall sis_wall_median < <(best_median "$out/sisimai.wall")
read -r sis_cpu sis_cpu_median < <(best_median "$out/sisimai.cpu")
read -r floor_wall floor_wall_median < <(best_median "$out/floor.wall")

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
awk -v b="$floor_wall" -v m="$floor_wall_median" 'BEGIN {
    printf "floor (/bin/true, same arguments, spawned the same way): best %.4fs, median %.4fs\n", b, m
}'
# The issue's target, said plainly for this run: at least 50 times
# Sisimai's speed in wall time (by best runs and by median runs).
awk -v m="$ours_wall" -v s="$sis_wall" -v mm="$ours_wall_median" -v sm="$sis_wall_median" 'BEGIN {
    best = (m > 0 ? s / m : 0); median = (mm > 0 ? sm / mm : 0)
    printf "target >= 50x wall: %s by best runs, %s by median runs\n", (best >= 50 ? "met" : "NOT met"), (median >= 50 ? "met" : "NOT met")
}'
