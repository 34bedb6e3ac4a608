#!/usr/bin/env bash
# Outbound throughput: mailtrail against Postfix's own tools, same machine,
# same run, same sink.
#
#   reference  Postfix's smtp-source sends COUNT messages of ~20 KB HTML
#              (10 links) over SESSIONS parallel connections into smtp-sink.
#   mailtrail  `mailtrail serve` (SQLite, DKIM RSA-2048 on, relay = a fresh
#              smtp-sink) gets COUNT copies through the API: COUNT/100
#              messages of 100 recipients each, the same 20 KB HTML. Timed
#              from the first POST until smtp-sink has received COUNT
#              messages (its -c running counter).
#
# Prints `reference: N msgs/s`, `mailtrail: N msgs/s`,
# `idle RSS: N MB`, the DKIM signing ceiling of this machine (the copies/s
# of every core doing nothing but sign, benches/dkim_ceiling.rs, and that
# as a ratio) and, last, `ratio: X` (mailtrail / reference; the target is
# >= 0.5, idle RSS <= 30 MB).
#
# Needs: postfix (smtp-source, smtp-sink; scripts/test.sh installs it),
# python3, openssl, curl, cargo. Traffic stays on 127.0.0.1.
#
# Environment: COUNT (default 10000, a multiple of 100), SESSIONS (default 8,
# mailtrail's default relay pool), BENCH_TIMEOUT seconds per half (default
# 900), MAILTRAIL_BIN (default: target/release/mailtrail, built by cargo),
# REFERENCE_ONLY=1 (run only the Postfix half), DKIM_ALGORITHM=ed25519 (sign
# with an Ed25519 key instead of RSA-2048).
set -euo pipefail

COUNT="${COUNT:-10000}"
SESSIONS="${SESSIONS:-8}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-900}"
RCPTS_PER_MESSAGE=100

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mailtrail-bench.XXXXXX")"
PIDS=()

die() {
    echo "benches/outbound.sh: ERROR: $*" >&2
    exit 1
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

for bin in smtp-source smtp-sink; do
    command -v "$bin" >/dev/null 2>&1 || [[ -x /usr/sbin/$bin ]] \
        || die "$bin not found: install postfix (scripts/test.sh does)"
done
export PATH="$PATH:/usr/sbin"
for bin in python3 openssl curl; do
    command -v "$bin" >/dev/null 2>&1 || die "$bin not found"
done
((COUNT % RCPTS_PER_MESSAGE == 0)) || die "COUNT must be a multiple of $RCPTS_PER_MESSAGE"

now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):.1f}')" "$@"; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() { # PORT SECONDS
    local deadline=$((SECONDS + $2))
    until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; do
        ((SECONDS < deadline)) || die "nothing listens on 127.0.0.1:$1 after $2 s"
        sleep 0.05
    done
}

# The 20 KB HTML body with 10 links, shared by both halves.
python3 - "$WORK/body.html" <<'EOF'
import sys
links = "".join(
    f'<p><a href="https://shop.example.com/item/{i}?ref=newsletter&amp;utm_source=bench">Item {i}: see the offer</a></p>\n'
    for i in range(10)
)
filler = "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.</p>\n"
head = "<!doctype html>\n<html><body>\n<h1>Benchmark newsletter</h1>\n" + links
tail = "</body></html>\n"
body = head
while len(body) + len(filler) + len(tail) <= 20 * 1024:
    body += filler
body += tail
open(sys.argv[1], "w").write(body)
EOF

# A sink whose running counter (-c: "sess=N quit=N mesg=N", one update per
# event, separated by CR) goes to LOG; its pid goes to SINK_PID. (Its -M
# option would exit before answering the last message, failing the client.)
start_sink() { # PORT LOG
    local user_args=()
    [[ $(id -u) -eq 0 ]] && user_args=(-u nobody) # smtp-sink refuses to run as root without -u
    smtp-sink -4 -c "${user_args[@]}" "127.0.0.1:$1" 256 >"$2" 2>&1 &
    SINK_PID=$!
    PIDS+=("$SINK_PID")
    wait_for_port "$1" 10
}

sink_count() { # LOG
    tail -c 200 "$1" | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -n1 | cut -d= -f2 || true
}

wait_for_sink() { # LOG: until the sink has received COUNT messages
    local deadline=$((SECONDS + BENCH_TIMEOUT)) n
    while :; do
        n="$(sink_count "$1")"
        ((${n:-0} >= COUNT)) && break
        ((SECONDS < deadline)) || die "smtp-sink received ${n:-0} of $COUNT messages in ${BENCH_TIMEOUT}s"
        kill -0 "$SINK_PID" 2>/dev/null || die "smtp-sink exited: $(tail -c 300 "$1")"
        sleep 0.02
    done
    kill "$SINK_PID" 2>/dev/null || true
}

# ------------------------------------------------------------- reference
reference() {
    {
        printf 'From: Bench <bench@example.test>\nTo: <rcpt@example.test>\nSubject: Benchmark newsletter\n'
        printf 'MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n'
        cat "$WORK/body.html"
    } >"$WORK/message.eml"
    local port start end
    port="$(free_port)"
    start_sink "$port" "$WORK/sink-reference.log"
    start="$(now)"
    smtp-source -4 -d -s "$SESSIONS" -m "$COUNT" -F "$WORK/message.eml" \
        -f bench@example.test -t rcpt@example.test "127.0.0.1:$port" >"$WORK/source.log" 2>&1 \
        || die "smtp-source failed: $(tail -n5 "$WORK/source.log")"
    wait_for_sink "$WORK/sink-reference.log"
    end="$(now)"
    REFERENCE_RATE="$(rate "$COUNT" "$start" "$end")"
    echo "reference: $REFERENCE_RATE msgs/s ($COUNT messages of $(wc -c <"$WORK/message.eml") bytes, $SESSIONS sessions, smtp-source -> smtp-sink)"
}

# ------------------------------------------------------------- mailtrail
# Written against the CLI and API of issue 2 (serve flags, `user add`,
# `token create`, POST /api/v1/messages); the lead finishes and checks it
# once the server sends through a smarthost.
mailtrail() {
    local bin="${MAILTRAIL_BIN:-$ROOT/target/release/mailtrail}"
    if [[ -z ${MAILTRAIL_BIN:-} ]]; then
        (cd "$ROOT" && cargo build --release --quiet --bin mailtrail) || die "cargo build --release failed"
    fi
    [[ -x $bin ]] || die "$bin is not an executable"

    if [[ ${DKIM_ALGORITHM:-rsa} == ed25519 ]]; then
        openssl genpkey -algorithm ED25519 -out "$WORK/dkim.pem" 2>/dev/null
    else
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/dkim.pem" 2>/dev/null
    fi
    local db="sqlite://$WORK/db.sqlite" email=bench@example.test
    printf 'bench-password-123\n' | "$bin" --data-dir "$WORK/data" --db "$db" user add "$email" --admin --password-stdin >/dev/null
    local key
    key="$("$bin" --data-dir "$WORK/data" --db "$db" token create --user "$email" --name bench 2>/dev/null | tail -n1)"
    [[ -n $key ]] || die "token create printed no key"

    local port
    port="$(free_port)"
    start_sink "$port" "$WORK/sink-mailtrail.log"
    "$bin" --data-dir "$WORK/data" --db "$db" serve --http 127.0.0.1:0 \
        --relay "smtp://127.0.0.1:$port" \
        --dkim-domain example.test --dkim-selector bench --dkim-key "$WORK/dkim.pem" \
        >"$WORK/serve.log" 2>&1 &
    local server=$!
    PIDS+=("$server")
    local url="" deadline=$((SECONDS + 30))
    while [[ -z $url ]]; do
        url="$(grep -o -m1 'listening on http://[0-9.:]*' "$WORK/serve.log" | sed 's/^listening on //' || true)"
        kill -0 "$server" 2>/dev/null || die "mailtrail serve exited: $(tail -n5 "$WORK/serve.log")"
        ((SECONDS < deadline)) || die "mailtrail serve did not report its address: $(tail -n5 "$WORK/serve.log")"
        [[ -n $url ]] || sleep 0.05
    done
    curl -fsS "$url/healthz" >/dev/null || die "GET /healthz failed"
    sleep 1 # let start-up settle before reading the idle footprint
    IDLE_RSS_KB="$(ps -o rss= -p "$server" | tr -d ' ')"

    local start end
    start="$(now)"
    python3 - "$url" "$key" "$WORK/body.html" "$((COUNT / RCPTS_PER_MESSAGE))" "$RCPTS_PER_MESSAGE" <<'EOF' || die "submitting through the API failed"
import json, sys, urllib.request
url, key, body_path, messages, per = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
html = open(body_path).read()
for m in range(messages):
    payload = {
        "from": {"name": "Bench", "address": "bench@example.test"},
        "to": [f"rcpt{m}-{r}@example.test" for r in range(per)],
        "subject": f"Benchmark newsletter {m}",
        "html": html,
    }
    request = urllib.request.Request(
        url + "/api/v1/messages",
        data=json.dumps(payload).encode(),
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        if response.status != 202:
            sys.exit(f"POST /api/v1/messages answered {response.status}: {response.read()[:300]!r}")
EOF
    wait_for_sink "$WORK/sink-mailtrail.log"
    end="$(now)"
    MAILTRAIL_RATE="$(rate "$COUNT" "$start" "$end")"
    echo "mailtrail: $MAILTRAIL_RATE msgs/s ($COUNT copies, $((COUNT / RCPTS_PER_MESSAGE)) API messages x $RCPTS_PER_MESSAGE recipients, DKIM ${DKIM_ALGORITHM:-rsa})"
    echo "idle RSS: $((IDLE_RSS_KB / 1024)) MB (${IDLE_RSS_KB} kB after start, before any mail)"
    kill "$server" 2>/dev/null || true
}

# The most copies per second any sending path could sign here: every core
# doing nothing but DKIM-sign the benchmark's message with the same key
# (benches/dkim_ceiling.rs). Each copy needs its own signature, since its
# body carries its own tracking tokens.
ceiling() {
    local out
    out="$(cd "$ROOT" && cargo bench -q --bench dkim_ceiling -- "$WORK/dkim.pem" "$WORK/message.eml" 3)" \
        || die "benches/dkim_ceiling failed"
    CEILING_RATE="$(awk '/^signatures\/s:/ {print $2}' <<<"$out")"
    echo "DKIM signing ceiling: $CEILING_RATE copies/s ($(awk '/^threads:/ {print $2}' <<<"$out") threads signing and nothing else; $(awk '/^cpu per signature:/ {print $4, $5}' <<<"$out") CPU per signature)"
    python3 -c "import sys; print(f'ceiling ratio: {float(sys.argv[1]) / float(sys.argv[2]):.2f} (the ratio if mailtrail did nothing but sign)')" "$CEILING_RATE" "$REFERENCE_RATE"
}

echo "outbound benchmark: COUNT=$COUNT SESSIONS=$SESSIONS on $(nproc) cores"
reference
if [[ ${REFERENCE_ONLY:-} == 1 ]]; then
    echo "ratio: n/a (REFERENCE_ONLY=1)"
    exit 0
fi
mailtrail
ceiling
python3 -c "import sys; print(f'ratio: {float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$MAILTRAIL_RATE" "$REFERENCE_RATE"
