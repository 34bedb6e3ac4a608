#!/usr/bin/env bash
# Long fuzz run: each target of fuzz/ for RUNS executions (default 10
# million), then the executions, time and crashes of each written into
# docs/fuzzing.md, between its "fuzz.sh results" markers, with the date and
# the machine.
#
#   benches/fuzz.sh                      every target, 10,000,000 runs each
#   RUNS=100000 benches/fuzz.sh          a short run
#   TARGETS="token smtp_reply" benches/fuzz.sh
#
# Builds as scripts/test.sh's bounded pass does (stable Rust with
# RUSTC_BOOTSTRAP=1, -O, no sanitizer; cargo-fuzz is installed if missing).
# libFuzzer stops a target at its first crash; the input is kept in
# fuzz/artifacts/NAME/ and counted. The corpus grows in fuzz/corpus/NAME.
# classify is seeded with the bounce corpus in MAILTRAIL_CORPORA (default
# ../shared/corpora beside the repository) when it is there, outlook_msg
# and outlook_tnef with its .msg and TNEF samples.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS="${RUNS:-10000000}"
TARGETS="${TARGETS:-classify smtp_server smtp_reply imap_response token outlook_msg outlook_tnef outlook_rtf}"
CORPORA="${MAILTRAIL_CORPORA:-$(cd "$ROOT/.." && pwd)/shared/corpora}"
DOC=docs/fuzzing.md

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build -O --sanitizer none)

rows=()
failed=0
for name in $TARGETS; do
    mkdir -p "fuzz/corpus/$name" "fuzz/artifacts/$name"
    seeds=()
    if [[ $name == classify && -d $CORPORA/bounces ]]; then
        seeds=("$CORPORA/bounces/sisimai/bsd" "$CORPORA/bounces/flufl")
    elif [[ $name == outlook_msg && -d $CORPORA/msg ]]; then
        seeds=("$CORPORA/msg")
    elif [[ $name == outlook_tnef && -d $CORPORA/tnef ]]; then
        seeds=("$CORPORA/tnef")
    fi
    before=$(find "fuzz/artifacts/$name" -type f | wc -l)
    log="$(mktemp)"
    echo "==> $name: $RUNS executions"
    set +e
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O --sanitizer none "$name" \
        "corpus/$name" "${seeds[@]}" -- \
        -runs="$RUNS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$name/" -print_final_stats=1) >"$log" 2>&1
    rc=$?
    set -e
    tail -n 3 "$log"
    # libFuzzer's closing line: "Done N runs in S second(s)".
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
    execs=$(sed -E 's/^Done ([0-9]+) runs.*/\1/' <<<"$done_line")
    secs=$(sed -E 's/.* in ([0-9]+) second.*/\1/' <<<"$done_line")
    if [[ -z $done_line ]]; then
        execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1 || true)
        secs="?"
    fi
    crashes=$(($(find "fuzz/artifacts/$name" -type f | wc -l) - before))
    if ((rc != 0)) && ((crashes == 0)); then
        crashes="run failed (exit $rc)"
    fi
    ((rc != 0)) && failed=1
    rows+=("| \`$name\` | ${execs:-?} | ${secs:-?} | $crashes |")
    rm -f "$log"
done

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || uname -m)
table="$(
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), RUNS=$RUNS per target, on $(nproc) cores of $cpu ($(uname -sr)):"
    echo
    echo "| target | executions | seconds | crashes |"
    echo "|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
)"
python3 - "$DOC" "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
begin, end = "<!-- fuzz.sh results begin -->", "<!-- fuzz.sh results end -->"
text = open(path).read()
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(f"{head}{begin}\n{table}\n{end}{tail}")
PY
echo "results written to $DOC"
exit "$failed"
