#!/usr/bin/env bash
# Converts every .msg of the corpus with mailtrail and reads it with the
# reference tools on the same files in the same run, and prints per file
# the time of each and how many times faster mailtrail is than the fastest.
#
#   mailtrail     in process, .msg to .eml bytes (cargo bench, release)
#   extract-msg   in process (PyPI; MAILTRAIL_PYTHON, default python3)
#   msgreader     in process (npm @kenjiuno/msgreader, installed here by npm ci)
#   msgconvert    one process per file (Debian libemail-outlook-message-perl),
#                 the best of three runs, as people run it
#
# Each time is the best of ROUNDS interleaved runs (default 3).
#
# usage: benches/outlook/run.sh [CORPORA_DIR]   (default: ../shared/corpora)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
corpora=${1:-${MAILTRAIL_CORPORA:-$root/../shared/corpora}}
msg="$(cd "$corpora/msg" && pwd)" || { echo "corpus missing: $corpora/msg" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# The in-process tools run in turn, ROUNDS times (default 3), and each
# keeps its best time per file: on a machine shared with other work the
# best of several interleaved runs is what the tool can do, and a burst of
# load during one tool's turn does not decide the ratio.
(cd "$here" && npm ci --no-audit --no-fund --silent)
(cd "$root" && cargo bench -q -p mailtrail-outlook --bench convert --no-run)
for round in $(seq "${ROUNDS:-3}"); do
    (cd "$root" && cargo bench -q -p mailtrail-outlook --bench convert -- "$msg") >"$out/mailtrail.$round"
    "${MAILTRAIL_PYTHON:-python3}" "$here/extract_msg_time.py" "$msg" >"$out/extract-msg.$round" 2>/dev/null
    node "$here/msgreader_time.js" "$msg" >"$out/msgreader.$round"
done
for tool in mailtrail extract-msg msgreader; do
    sort -t$'\t' -k1,1 -k2,2g "$out/$tool".* | awk -F'\t' '!seen[$1]++' >"$out/$tool.tsv"
done
while IFS=$'\t' read -r file _; do
    best=""
    for _ in 1 2 3; do
        start=$(date +%s%N)
        msgconvert --outfile "$out/x.eml" "$msg/$file" >/dev/null 2>&1 || true
        t=$((($(date +%s%N) - start) / 1000))
        [[ -z $best || $t -lt $best ]] && best=$t
    done
    printf '%s\t%s\n' "$file" "$best"
done <"$out/mailtrail.tsv" >"$out/msgconvert.tsv"

python3 - "$out" <<'PY'
import sys, os
out = sys.argv[1]
tools = ["mailtrail", "msgconvert", "extract-msg", "msgreader"]
t = {k: dict(l.split("\t") for l in open(os.path.join(out, k + ".tsv")).read().split("\n") if l) for k in tools}
print("| file | " + " | ".join(f"{k} (µs)" for k in tools) + " | fastest other | × |")
print("|---" * (len(tools) + 3) + "|")
for f in t["mailtrail"]:
    ours = float(t["mailtrail"][f])
    others = {k: float(t[k][f]) for k in tools[1:] if f in t[k]}
    best = min(others, key=others.get)
    cells = " | ".join(f"{float(t[k][f]):.0f}" if f in t[k] else "-" for k in tools)
    print(f"| {f} | {cells} | {best} | {others[best] / ours:.1f} |")
PY
