#!/usr/bin/env bash
# Tracking pixel throughput: `mailtrail serve` answering GET /t/o/{valid
# token} (every answered hit durable: the event is in the fdatasync'ed event
# journal before the 200, and folded into the store right after)
# against nginx serving a static 43-byte GIF, same machine, same run, same
# wrk settings (2 threads, 64 connections, 10 s).
#
# Prints both req/s and p99 latencies, `ratio: X` (mailtrail / nginx; the
# target is >= 1.0), mailtrail's peak RSS under load (target <= 100 MB), the
# server CPU time per request of each (from /proc, so that the load other
# processes put on the machine matters less: nginx's workers; mailtrail's
# threads by name, plus a third run of `GET /t/o/` with no token, which is
# the HTTP stack alone with no event), and
# checks that the store holds at least as many `opened` events as wrk got
# answers (waiting up to 60 s for the journal to be folded into it).
#
# Needs: wrk, nginx (scripts/test.sh installs neither; `apt-get install wrk
# nginx`), python3, curl, cargo. Traffic stays on 127.0.0.1.
#
# Environment: DURATION (default 10s), CONNECTIONS (64), THREADS (2),
# MAILTRAIL_BIN (default: target/release/mailtrail, built by cargo), and
# MAILTRAIL_* settings passed through (e.g. MAILTRAIL_EVENT_BATCH).
set -euo pipefail

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for tool in wrk nginx python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
    echo "missing $tool: apt-get install wrk nginx python3 curl" >&2; exit 1; }
done
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

if [ -z "${MAILTRAIL_BIN:-}" ]; then
  (cd "$root" && cargo build --release --quiet --bin mailtrail)
  MAILTRAIL_BIN="$root/target/release/mailtrail"
fi

work="$(mktemp -d)"
chmod 755 "$work"  # nginx workers run as another user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- nginx: a static 43-byte GIF with the same no-store header ---
mkdir -p "$work/nginx/html" "$work/nginx/tmp"
printf 'GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x21\xf9\x04\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b' \
  > "$work/nginx/html/p.gif"
[ "$(stat -c %s "$work/nginx/html/p.gif")" = 43 ] || { echo "GIF is not 43 bytes" >&2; exit 1; }
nport="$(free_port)"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp; uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$nport;
    location / {
      root $work/nginx/html;
      default_type image/gif;
      add_header Cache-Control "no-store, no-cache, must-revalidate, private";
      try_files /p.gif =404;
    }
  }
}
CONF
"$NGINX" -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)

# --- mailtrail: sandbox relay, SQLite, a real recipient to sign for ---
data="$work/mailtrail"
"$MAILTRAIL_BIN" --data-dir "$data" user add bench@example.test --admin --password-stdin <<<"bench-password-123" >/dev/null
key="$("$MAILTRAIL_BIN" --data-dir "$data" token create --user bench@example.test 2>/dev/null)"
RUST_LOG=warn "$MAILTRAIL_BIN" --data-dir "$data" serve --http 127.0.0.1:0 > "$work/serve.out" 2> "$work/serve.err" &
mpid=$!
pids+=($mpid)
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
base="$(grep -o 'http://[0-9.:]*' "$work/serve.out" | head -1)"
[ -n "$base" ] || { echo "mailtrail did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }
rcpt="$(curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"from":"bench@example.test","to":["reader@example.test"],"subject":"bench","text":"hi"}' \
  "$base/api/v1/messages" | python3 -c 'import json,sys; print(json.load(sys.stdin)["recipients"][0]["id"])')"
token="$(python3 "$here/sign_token.py" "$data/token-secret" "$rcpt")"
curl -sf -o /dev/null "$base/t/o/$token"
sleep 0.5
for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$nport/p.gif" && break; sleep 0.1; done

count_opens() {
  python3 - "$data/mailtrail.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("SELECT count(*) FROM events WHERE kind = 'opened'").fetchone()[0])
PY
}

# CPU time (clock ticks, user + system) of every thread of the given
# processes; `by_name PID` prints it per thread name instead.
hz="$(getconf CLK_TCK)"
ticks() {
  cat $(for p in "$@"; do echo /proc/"$p"/task/*/stat; done) 2>/dev/null |
    sed 's/.*) //' | awk '{ t += $12 + $13 } END { print t + 0 }'
}
by_name() {
  for f in /proc/"$1"/task/*; do
    printf '%s ' "$(tr ' ' _ < "$f/comm")"; sed 's/.*) //' "$f/stat" | awk '{ print $12 + $13 }'
  done 2>/dev/null | awk '{ t[$1] += $2 } END { for (n in t) print n, t[n] }' | sort
}
# Microseconds of CPU per request: ticks, requests.
per_req() { python3 -c "print(round($1 * 1e6 / $hz / max($2, 1), 2))"; }

run_wrk() { wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1"; }
rps() { awk '/^Requests\/sec/ {print $2}'; }
p99() { awk '$1 == "99%" {print $2}'; }
total() { awk '/requests in/ {print $1}'; }

echo "== nginx (static 43-byte GIF) =="
nworkers="$(pgrep -P "${pids[0]}" | tr '\n' ' ')"
n0="$(ticks $nworkers)"
nout="$(run_wrk "http://127.0.0.1:$nport/p.gif")"
n_cpu="$(per_req $(($(ticks $nworkers) - n0)) "$(echo "$nout" | awk '/requests in/ {print $1}')")"
echo "$nout"

echo "== mailtrail GET /t/o/ (no token: the HTTP stack alone, no event) =="
h0="$(ticks "$mpid")"
hout="$(run_wrk "$base/t/o/")"
h_cpu="$(per_req $(($(ticks "$mpid") - h0)) "$(echo "$hout" | awk '/requests in/ {print $1}')")"
echo "$hout"

echo "== mailtrail GET /t/o/{valid token} =="
before="$(count_opens)"
peak=0
( while kill -0 "$mpid" 2>/dev/null; do
    r="$(awk '/VmRSS/ {print $2}' "/proc/$mpid/status" 2>/dev/null || echo 0)"
    echo "$r"; sleep 0.2
  done ) > "$work/rss.txt" &
sampler=$!
by_name "$mpid" > "$work/threads0"
mout="$(run_wrk "$base/t/o/$token")"
by_name "$mpid" > "$work/threads1"
echo "$mout"
n_rps="$(echo "$nout" | rps)"; m_rps="$(echo "$mout" | rps)"
answered="$(echo "$mout" | total)"
# Every answer was durable in the event journal before its 200; the store
# has the events once the journal is folded into it, shortly after. Wait
# (at most 60 s) for the store to catch up, and say how long it took.
waited=0
after="$(count_opens)"
while [ $((after - before)) -lt "$answered" ] && [ "$waited" -lt 600 ]; do
  sleep 0.1; waited=$((waited + 1)); after="$(count_opens)"
done
kill "$sampler" 2>/dev/null || true
peak="$(sort -n "$work/rss.txt" | tail -1)"
stored=$((after - before))
non2xx="$(echo "$mout" | awk '/Non-2xx/ {print $4}')"
echo
echo "nginx: $n_rps req/s, p99 $(echo "$nout" | p99)"
echo "mailtrail: $m_rps req/s, p99 $(echo "$mout" | p99)"
echo "mailtrail RSS under load: $((peak / 1024)) MB (peak VmRSS)"
echo "answered: $answered, opened events stored: $stored${non2xx:+, non-2xx: $non2xx} (store caught up $((waited * 100)) ms after wrk ended)"
if [ "$stored" -lt "$answered" ]; then
  echo "DURABILITY FAILURE: fewer events stored than answers" >&2; exit 1
fi
# Per thread name: what the event path costs, and where.
threads="$(join -a 2 -e 0 -o 2.1,1.2,2.2 "$work/threads0" "$work/threads1" |
  awk -v n="$answered" -v hz="$hz" '{ d = $3 - $2; total += d; if (d > 0) printf "%s %.2f, ", $1, d * 1e6 / hz / n }
    END { printf "total %.2f", total * 1e6 / hz / n }')"
echo "server CPU per request (us): nginx $n_cpu; mailtrail HTTP alone (GET /t/o/) $h_cpu; mailtrail pixel + durable event: $threads"
echo "ratio: $(python3 -c "print(round($m_rps / $n_rps, 3))")"
