#!/usr/bin/env bash
# How fast `mailtrail classify --json DIR` reads a directory of thousands of
# returned messages, against the cost of only reading the same files.
#
# The bounce corpus (Sisimai's bsd/, dos/, mac/, not/ and flufl's messages,
# 616 files, 2.1 MB) is copied COPIES times (default 32: about 20,000 files)
# into a temporary directory of sub-directories. Two commands read it, each
# timed by its best of 3 runs, with the page cache warm:
#   - mailtrail: `mailtrail classify --json DIR > /dev/null` (walks the
#     directories, reads, classifies and prints, on every core);
#   - reference: `find DIR -type f -print0 | xargs -0 cat > /dev/null`, the
#     files read and nothing else.
# With the cache cold (run as root: `drop_caches` before each run) the two
# are timed once more, so that the figure is also the one for a disk.
#
# usage: benches/classify/dir.sh [COPIES] [CORPORA_DIR]
set -euo pipefail
export LC_NUMERIC=C
root=$(cd "$(dirname "$0")/../.." && pwd)
copies=${1:-32}
corpora=${2:-${MAILTRAIL_CORPORA:-$root/../shared/corpora}}
corpora=$(cd "$corpora" && pwd)
[ -d "$corpora/bounces/sisimai/bsd" ] || { echo "corpus missing: $corpora/bounces/sisimai/bsd" >&2; exit 1; }

cd "$root"
cargo build -q --release --bin mailtrail
ours="$root/target/release/mailtrail"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in $(seq "$copies"); do
    mkdir -p "$dir/$i"
    (cd "$corpora/bounces" && cp -r sisimai/bsd sisimai/dos sisimai/mac sisimai/not flufl "$dir/$i/")
done
find "$dir" -name LICENSE -delete -o -name '*.tsv' -delete
nfiles=$(find "$dir" -type f | wc -l)
bytes=$(du -sb "$dir" | cut -f1)

# best_of N COMMAND...: the smallest wall time of N runs, in seconds.
best_of() {
    local n=$1 best="" t0 t1
    shift
    for _ in $(seq "$n"); do
        [ -n "${COLD:-}" ] && { sync; echo 3 > /proc/sys/vm/drop_caches; }
        t0=$EPOCHREALTIME
        "$@" > /dev/null
        t1=$EPOCHREALTIME
        best=$(awk -v a="$t0" -v b="$t1" -v m="$best" 'BEGIN { d = b - a; print (m == "" || d < m) ? d : m }')
    done
    echo "$best"
}
read_all() { find "$dir" -type f -print0 | xargs -0 cat; }

report() {
    awk -v what="$1" -v o="$2" -v r="$3" -v n="$nfiles" -v b="$bytes" 'BEGIN {
        printf "%s: mailtrail %.3fs (%.0f files/s, %.0f MB/s), reading alone %.3fs (%.0f MB/s): classifying costs %.1fx reading\n",
            what, o, n / o, b / o / 1e6, r, b / r / 1e6, o / r
    }'
}

echo "directory: $nfiles files, $((bytes / 1000000)) MB ($copies copies of the corpus)"
ours_t=$(best_of 3 "$ours" classify --json "$dir")
ref_t=$(best_of 3 read_all)
report "warm cache" "$ours_t" "$ref_t"
if [ -w /proc/sys/vm/drop_caches ]; then
    ours_t=$(COLD=1 best_of 1 "$ours" classify --json "$dir")
    ref_t=$(COLD=1 best_of 1 read_all)
    report "cold cache" "$ours_t" "$ref_t"
else
    echo "cold cache: not measured (drop_caches needs root)"
fi
