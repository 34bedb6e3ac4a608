#!/usr/bin/env bash
# Runs mailtrail's whole test suite on a fresh Debian 12 machine.
#
# It installs (with apt, only when missing) and starts what the tests talk
# to: PostgreSQL on 127.0.0.1:5432, Postfix (the tests run private
# instances on free loopback ports; the system instance is kept stopped),
# Dovecot and openssl. Then: rustfmt check, clippy with warnings denied, and
# `cargo test --workspace`. Safe to run again: with everything in place it
# installs nothing and goes straight to the Rust checks.
#
# Environment:
#   MAILTRAIL_TEST_POSTGRES_URL  server the tests create databases on
#                                (default postgres://postgres@127.0.0.1:5432/postgres)
#   MAILTRAIL_CORPORA            mail corpora (default ../shared/corpora beside the repo)
#   MAILTRAIL_PYTHON             a python with extract-msg for the Outlook fidelity test
#                                (default: python3 if it has extract-msg, else a venv in target/)
#   MAILTRAIL_SKIP_INSTALL=1     check prerequisites but never install or start anything
set -euo pipefail

section() { printf '\n==> %s\n' "$*"; }
die() {
    printf '\nscripts/test.sh: ERROR: %s\n' "$*" >&2
    exit 1
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    SUDO=(__no_root__)
fi
as_root() {
    if [[ ${SUDO[0]:-} == __no_root__ ]]; then
        die "this step needs root (or sudo): $*"
    fi
    "${SUDO[@]}" "$@"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# ---------------------------------------------------------------- packages
section "System packages"
PG_PORT=5432
missing=()
# swaks and its TLS modules: the SMTP submission tests send with it.
for pkg in postfix dovecot-imapd swaks libnet-ssleay-perl libio-socket-ssl-perl; do
    installed "$pkg" || missing+=("$pkg")
done
# Commands the tests run (the DKIM tests make keys with openssl).
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The fuzz pass builds libFuzzer, which is C++.
command -v c++ >/dev/null 2>&1 || missing+=(g++)
pg_up() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; }
pg_clusters() { ls /etc/postgresql/*/*/postgresql.conf 2>/dev/null || true; }
if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
    missing+=(postgresql-client)
fi
# The restart test runs a private cluster of its own, so the server's
# programs (initdb, pg_ctl) are needed even when the database is elsewhere.
if { ! { command -v pg_isready >/dev/null 2>&1 && pg_up; } && [[ -z "$(pg_clusters)" ]]; } ||
    ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi

if ((${#missing[@]})); then
    [[ ${MAILTRAIL_SKIP_INSTALL:-} == 1 ]] && die "missing packages: ${missing[*]} (MAILTRAIL_SKIP_INSTALL=1 forbids installing them)"
    echo "installing: ${missing[*]}"
    as_root apt-get update -q
    # "No configuration" leaves /etc/postfix/main.cf absent, so the system
    # instance cannot start and never takes port 25.
    echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "postfix, dovecot-imapd, swaks, openssl and PostgreSQL are installed"
fi
for bin in /usr/sbin/postfix /usr/sbin/smtp-sink /usr/sbin/smtp-source /usr/sbin/dovecot; do
    [[ -x $bin ]] || die "$bin is missing after installation"
done

# ------------------------------------------------------- browser tests
# The dashboard's browser test (tests/it/dashboard.rs) drives Debian's
# Chromium with playwright-core from npm; no browser is downloaded.
section "Browser tests: chromium, node, playwright-core"
browser_missing=()
installed chromium || browser_missing+=(chromium)
command -v node >/dev/null 2>&1 || browser_missing+=(nodejs)
command -v npm >/dev/null 2>&1 || browser_missing+=(npm)
if ((${#browser_missing[@]})); then
    [[ ${MAILTRAIL_SKIP_INSTALL:-} == 1 ]] && die "missing packages: ${browser_missing[*]} (MAILTRAIL_SKIP_INSTALL=1 forbids installing them)"
    echo "installing: ${browser_missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${browser_missing[@]}"
fi
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is missing after installation"
# npm ci only when the installed playwright-core is not the locked one.
browser_deps_current() {
    (cd tests/browser && node -e '
        const lock = require("./package-lock.json").packages["node_modules/playwright-core"].version;
        const have = require("./node_modules/playwright-core/package.json").version;
        process.exit(lock === have ? 0 : 1);' 2>/dev/null)
}
if browser_deps_current; then
    echo "playwright-core is installed in tests/browser/node_modules"
else
    [[ ${MAILTRAIL_SKIP_INSTALL:-} == 1 ]] && die "tests/browser/node_modules is not installed (run npm ci there)"
    (cd tests/browser && npm ci --no-audit --no-fund)
    browser_deps_current || die "npm ci in tests/browser did not install the locked playwright-core"
fi

# ------------------------------------------------ Outlook reference tools
# The Outlook fidelity test (crates/mailtrail-outlook/tests/fidelity.rs)
# compares its conversions with msgconvert, tnef and ytnef (Debian) and
# extract-msg (PyPI, pinned, in a virtual environment under target/ since
# Debian's Python refuses system-wide pip installs).
section "Outlook reference tools: msgconvert, tnef, ytnef, extract-msg"
outlook_missing=()
for pkg in libemail-outlook-message-perl libemail-address-perl tnef ytnef-tools python3-venv; do
    installed "$pkg" || outlook_missing+=("$pkg")
done
if ((${#outlook_missing[@]})); then
    [[ ${MAILTRAIL_SKIP_INSTALL:-} == 1 ]] && die "missing packages: ${outlook_missing[*]} (MAILTRAIL_SKIP_INSTALL=1 forbids installing them)"
    echo "installing: ${outlook_missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${outlook_missing[@]}"
fi
EXTRACT_MSG_VERSION=0.57.0
if [[ -z ${MAILTRAIL_PYTHON:-} ]]; then
    if python3 -c "import extract_msg, sys; sys.exit(extract_msg.__version__ != '$EXTRACT_MSG_VERSION')" 2>/dev/null; then
        MAILTRAIL_PYTHON=python3
    else
        venv="$ROOT/target/outlook-venv"
        if ! "$venv/bin/python" -c "import extract_msg" 2>/dev/null; then
            [[ ${MAILTRAIL_SKIP_INSTALL:-} == 1 ]] && die "extract-msg $EXTRACT_MSG_VERSION is not installed (set MAILTRAIL_PYTHON)"
            python3 -m venv "$venv" || die "cannot create $venv"
            "$venv/bin/pip" install -q "extract-msg==$EXTRACT_MSG_VERSION" || die "pip install extract-msg failed"
        fi
        MAILTRAIL_PYTHON="$venv/bin/python"
    fi
fi
export MAILTRAIL_PYTHON
echo "MAILTRAIL_PYTHON=$MAILTRAIL_PYTHON (extract-msg)"

# ------------------------------------------------------ OpenAPI validator
# tests/it/openapi.rs validates the served OpenAPI document with
# openapi-spec-validator (PyPI, pinned), in its own virtual environment.
section "OpenAPI validator: openapi-spec-validator"
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
if [[ -z ${MAILTRAIL_OPENAPI_VALIDATOR:-} ]]; then
    venv="$ROOT/target/openapi-venv"
    if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('openapi-spec-validator') != '$OPENAPI_SPEC_VALIDATOR_VERSION')" 2>/dev/null; then
        [[ ${MAILTRAIL_SKIP_INSTALL:-} == 1 ]] && die "openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION is not installed (set MAILTRAIL_OPENAPI_VALIDATOR)"
        python3 -m venv "$venv" || die "cannot create $venv"
        "$venv/bin/pip" install -q "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" || die "pip install openapi-spec-validator failed"
    fi
    MAILTRAIL_OPENAPI_VALIDATOR="$venv/bin/openapi-spec-validator"
fi
export MAILTRAIL_OPENAPI_VALIDATOR
echo "MAILTRAIL_OPENAPI_VALIDATOR=$MAILTRAIL_OPENAPI_VALIDATOR"

# --------------------------------------------------------------- postfix
section "Postfix (system instance must be stopped; tests run private instances)"
if [[ -f /etc/postfix/main.cf ]] && /usr/sbin/postfix status >/dev/null 2>&1; then
    [[ ${MAILTRAIL_SKIP_INSTALL:-} == 1 ]] && die "the system Postfix instance is running; stop it (postfix stop)"
    echo "stopping the system Postfix instance"
    as_root /usr/sbin/postfix stop
fi
echo "system Postfix instance: not running"
if [[ $(id -u) -ne 0 ]]; then
    echo "WARNING: not root: the tests that start a private Postfix instance will fail (postfix start needs root)"
fi

# ------------------------------------------------------------ postgresql
section "PostgreSQL on 127.0.0.1:$PG_PORT"
if ! pg_up; then
    [[ ${MAILTRAIL_SKIP_INSTALL:-} == 1 ]] && die "PostgreSQL is not accepting connections on 127.0.0.1:$PG_PORT"
    confs="$(pg_clusters)"
    [[ -n $confs ]] || die "no PostgreSQL cluster exists (is the postgresql package installed?)"
    # The cluster configured for our port, else the first one.
    # shellcheck disable=SC2086
    conf="$(grep -l -E "^[[:space:]]*port[[:space:]]*=[[:space:]]*$PG_PORT([^0-9]|$)" $confs | head -n1 || true)"
    [[ -n $conf ]] || conf="$(head -n1 <<<"$confs")"
    version="$(basename "$(dirname "$(dirname "$conf")")")"
    cluster="$(basename "$(dirname "$conf")")"
    echo "starting cluster $version/$cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
    for _ in $(seq 1 60); do
        pg_up && break
        sleep 0.5
    done
    pg_up || die "PostgreSQL cluster $version/$cluster did not start listening on 127.0.0.1:$PG_PORT"
fi
if [[ -z ${MAILTRAIL_TEST_POSTGRES_URL:-} ]]; then
    MAILTRAIL_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    if ! PGCONNECT_TIMEOUT=5 psql "$MAILTRAIL_TEST_POSTGRES_URL" -Atqc 'select 1' >/dev/null 2>&1; then
        # A freshly installed Debian cluster asks for a password over TCP
        # (scram-sha-256) and has none: give the postgres role one, over the
        # local socket (peer authentication).
        [[ ${MAILTRAIL_SKIP_INSTALL:-} == 1 ]] && die "cannot connect to $MAILTRAIL_TEST_POSTGRES_URL (set MAILTRAIL_TEST_POSTGRES_URL)"
        echo "trust authentication is off: setting a password for the postgres role"
        as_root runuser -u postgres -- psql -p "$PG_PORT" -Atqc "ALTER ROLE postgres PASSWORD 'postgres'" >/dev/null
        MAILTRAIL_TEST_POSTGRES_URL="postgres://postgres:postgres@127.0.0.1:$PG_PORT/postgres"
    fi
fi
export MAILTRAIL_TEST_POSTGRES_URL
PGCONNECT_TIMEOUT=5 psql "$MAILTRAIL_TEST_POSTGRES_URL" -Atqc 'select 1' >/dev/null \
    || die "cannot connect to $MAILTRAIL_TEST_POSTGRES_URL"
echo "MAILTRAIL_TEST_POSTGRES_URL=${MAILTRAIL_TEST_POSTGRES_URL//:postgres@/:***@}"

# --------------------------------------------------------------- corpora
section "Corpora"
if [[ -z ${MAILTRAIL_CORPORA:-} ]]; then
    MAILTRAIL_CORPORA="$(cd "$ROOT/.." && pwd)/shared/corpora"
fi
[[ -d $MAILTRAIL_CORPORA ]] \
    || die "mail corpora not found at $MAILTRAIL_CORPORA: put shared/ beside the repository or set MAILTRAIL_CORPORA"
export MAILTRAIL_CORPORA
echo "MAILTRAIL_CORPORA=$MAILTRAIL_CORPORA"

# ------------------------------------------------------------------ rust
section "Rust toolchain"
command -v cargo >/dev/null 2>&1 || die "cargo is not installed"
cargo --version
cargo fmt --version >/dev/null 2>&1 || die "rustfmt is not installed (rustup component add rustfmt)"
cargo clippy --version >/dev/null 2>&1 || die "clippy is not installed (rustup component add clippy)"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
if [[ -n ${CI:-} ]]; then
    # A cold one-off build: incremental artefacts would only cost time and disk.
    export CARGO_INCREMENTAL=0
fi

# Every check runs even when an earlier one fails, so one run reports all
# of them; the script fails at the end if any did.
FAILED=()
run_step() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    section "$what"
    if "$@"; then
        echo "ok: $what"
    else
        echo "FAILED: $what"
        FAILED+=("$what")
    fi
}

fmt_check() {
    local out
    out="$(mktemp)"
    if cargo fmt --all -- --check >"$out" 2>&1; then
        rm -f "$out"
        return 0
    fi
    echo "files that need \`cargo fmt --all\`:"
    grep -o '^Diff in [^ ]*' "$out" | sed -e 's/^Diff in //' -e 's/:[0-9]*:$//' | sort -u | sed 's/^/  /'
    echo "first lines of the diff:"
    head -n 60 "$out"
    rm -f "$out"
    return 1
}

run_step "cargo fmt --all -- --check" fmt_check
run_step "cargo clippy --workspace --all-targets -- -D warnings" cargo clippy --workspace --all-targets -- -D warnings
# The whole suite; its per-binary "test result:" lines are added up into
# one closing line at the end of the script.
TEST_SUMMARY="no test ran"
cargo_test() {
    local log rc
    log="$(mktemp)"
    cargo test --workspace 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    TEST_SUMMARY="$(awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed", p, f }' "$log")"
    rm -f "$log"
    return "$rc"
}
run_step "cargo test --workspace" cargo_test

# A bounded fuzz pass (fuzz/, its own crate), one target per parser of
# outside input. classify: any bytes must classify without a panic, and the
# classifier's MIME walk must find the same parts, with the same bytes, as
# mail-parser (whose walk it reproduces, decoding lazily). smtp_server: the
# inbound command parser and DATA reader (no bare CR/LF accepted, DATA ends
# only at <CR><LF>.<CR><LF>). smtp_reply: the reply parser of the outbound
# client. imap_response: the IMAP response and FETCH line readers. token:
# tracking token decoding (nothing forges a token; signed ones round-trip).
# outlook_msg, outlook_tnef, outlook_rtf: the .msg reader (compound file +
# MAPI), the TNEF reader, compressed RTF and HTML de-encapsulation.
# Only stable Rust exists here, so RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass
# its flags and --sanitizer none skips AddressSanitizer (a panic still
# aborts and fails the run). -O builds without debug assertions, as
# mailtrail ships: mail-parser 0.11.9 (pinned) has a debug_assert! that
# fires on some corrupt MIME it then recovers from. MAILTRAIL_FUZZ_SECS sets
# classify's duration (default 60 s) and MAILTRAIL_FUZZ_SECS_EACH the
# others' (default 15 s each): under two minutes in all, plus the build.
fuzz_target() { # NAME SECONDS [SEED_DIR...]
    local name=$1 secs=$2
    shift 2
    mkdir -p "fuzz/corpus/$name"
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O --sanitizer none "$name" \
        "corpus/$name" "$@" -- \
        -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048)
}
fuzz_all() {
    if ! command -v cargo-fuzz >/dev/null 2>&1; then
        cargo install --locked cargo-fuzz || return 1
    fi
    local each=${MAILTRAIL_FUZZ_SECS_EACH:-15} rc=0
    # classify is seeded with the bounce corpus; new inputs go to fuzz/corpus/NAME.
    fuzz_target classify "${MAILTRAIL_FUZZ_SECS:-60}" \
        "$MAILTRAIL_CORPORA/bounces/sisimai/bsd" "$MAILTRAIL_CORPORA/bounces/flufl" || rc=1
    for name in smtp_server smtp_reply imap_response token; do
        fuzz_target "$name" "$each" || rc=1
    done
    # The Outlook parsers: any bytes must read or give an error, and what
    # reads must convert and survive a TNEF write/read round trip.
    fuzz_target outlook_msg "$each" "$MAILTRAIL_CORPORA/msg" || rc=1
    fuzz_target outlook_tnef "$each" "$MAILTRAIL_CORPORA/tnef" || rc=1
    fuzz_target outlook_rtf "$each" || rc=1
    return "$rc"
}
run_step "cargo fuzz run: classify, smtp_server, smtp_reply, imap_response, token, outlook_msg, outlook_tnef, outlook_rtf (bounded)" fuzz_all

if ((${#FAILED[@]})); then
    section "FAILED: ${#FAILED[@]} check(s)"
    printf '  %s\n' "${FAILED[@]}"
    echo "tests: $TEST_SUMMARY"
    exit 1
fi
section "all checks passed"
echo "tests: $TEST_SUMMARY"
