#!/usr/bin/env bash
# Sets up whatever the tests need and runs every test: unit and integration tests on SQLite and on
# a throwaway PostgreSQL cluster (directly, then the PostgreSQL half again through PgBouncer in
# transaction mode), the S3 suite against a local S3-compatible server, a 60-second chaos soak
# (scripts/chaos.sh), and the browser tests in end2end/ with Debian's Chromium. Servers it starts
# are stopped on exit.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_BIN=/usr/lib/postgresql/15/bin
ensure_apt "$PG_BIN/initdb" postgresql-15 /usr/lib/chromium/chromium chromium \
  /usr/lib/python3/dist-packages/aiosmtpd python3-aiosmtpd /usr/sbin/pgbouncer pgbouncer
ensure_build_tools
ensure_s3s_fs

RUN_DIR=$(mktemp -d /tmp/fitroom-test.XXXXXX)
chmod 755 "$RUN_DIR"
PG_DATA="$RUN_DIR/pg"
S3_PID=""

cleanup() {
  set +e
  if [ -f "$PG_DATA/postmaster.pid" ]; then
    note "stopping the test PostgreSQL cluster"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1
  fi
  if [ -f "$RUN_DIR/pgbouncer/pgbouncer.pid" ]; then
    note "stopping PgBouncer"
    kill "$(cat "$RUN_DIR/pgbouncer/pgbouncer.pid")" 2>/dev/null
  fi
  if [ -n "$S3_PID" ]; then
    note "stopping s3s-fs"
    kill "$S3_PID" 2>/dev/null
  fi
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT

# initdb refuses to run as root: the cluster belongs to the postgres user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

step "Starting a throwaway PostgreSQL cluster"
PG_PORT=$(free_port)
mkdir -p "$PG_DATA"
[ "$(id -u)" = 0 ] && chown postgres "$PG_DATA"
as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U fitroom --auth=trust -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA -c max_connections=400 -c fsync=off -c full_page_writes=off" \
  start >/dev/null
export FITROOM_TEST_POSTGRES_URL="postgres://fitroom@127.0.0.1:$PG_PORT/postgres"
note "PostgreSQL 15 on 127.0.0.1:$PG_PORT"

step "Starting PgBouncer in transaction mode in front of it"
# Pools of 4 server connections per database, smaller than each test's pool (32): clients queue
# for server connections, and each serves whichever client's transaction comes next.
BOUNCER_URL=$(start_pgbouncer "$PG_PORT" "$RUN_DIR/pgbouncer" 4)
note "PgBouncer (transaction pooling) at $BOUNCER_URL"

step "Starting s3s-fs, an S3-compatible server"
S3_PORT=$(free_port)
mkdir -p "$RUN_DIR/s3/fitroom-test"
export FITROOM_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export FITROOM_TEST_S3_BUCKET=fitroom-test
export FITROOM_TEST_S3_ACCESS_KEY=fitroom-test-key
export FITROOM_TEST_S3_SECRET_KEY=fitroom-test-secret
s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key "$FITROOM_TEST_S3_ACCESS_KEY" \
  --secret-key "$FITROOM_TEST_S3_SECRET_KEY" "$RUN_DIR/s3" >"$RUN_DIR/s3.log" 2>&1 &
S3_PID=$!
note "s3s-fs on $FITROOM_TEST_S3_ENDPOINT"

step "Formatting and lints (cargo fmt --check, clippy with warnings as errors)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features ssr -- -D warnings

step "Unit and integration tests (SQLite and PostgreSQL)"
cargo test --workspace --features ssr --no-fail-fast

step "The PostgreSQL half of the suite again, through PgBouncer in transaction mode"
# FITROOM_DATABASE_POOLER=transaction for every pool, migrations over the direct URL.
FITROOM_TEST_PGBOUNCER_URL="$BOUNCER_URL" cargo test -p fitroom-server --test suite -- postgres

step "Chaos soak: 60 s of faults on two processes (scripts/chaos.sh; seed 1 once found a bug)"
CHAOS_BINARY="${CARGO_TARGET_DIR:-$ROOT/target}/debug/fitroom" ./scripts/chaos.sh 60 1

# The server binary is the one `cargo test` just built (target/debug/fitroom): building it again
# through cargo-leptos would compile every dependency a second time with other features.
step "Building the site's wasm, JS and CSS for the browser tests"
cargo leptos build --frontend-only

step "Browser tests (Playwright driving Debian's Chromium)"
export FITROOM_E2E_PORT=$(free_port)
export FITROOM_E2E_FAILING_PORT=$(free_port)
export FITROOM_E2E_DATA_DIR="$RUN_DIR/e2e"
mkdir -p "$FITROOM_E2E_DATA_DIR"
(cd end2end && npx playwright test)

step "All tests passed"
