#!/usr/bin/env bash
# The chaos soak (RELIABILITY.md, issue 22): `scripts/chaos.sh [seconds] [seed]` (300 s, seed 1).
# Builds Fitroom (debug), starts a throwaway PostgreSQL cluster and s3s-fs, then runs
# scripts/chaos.py: two `fitroom serve` processes, shoppers, a provider fake, fault proxies, and
# faults chosen by the seed; at the end the invariants are checked with every fault off. Exits
# non-zero on any violation. A failing seed reproduces with the same seconds and seed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECONDS_OF_FAULTS=${1:-300}
SEED=${2:-1}
PG_BIN=/usr/lib/postgresql/15/bin
ensure_apt "$PG_BIN/initdb" postgresql-15 /usr/bin/psql postgresql-client-15
ensure_s3s_fs

# The same binary the test command builds; CHAOS_BINARY names another (a release build).
BINARY=${CHAOS_BINARY:-"${CARGO_TARGET_DIR:-$ROOT/target}/debug/fitroom"}
if [ -z "${CHAOS_BINARY:-}" ]; then
  step "Building fitroom"
  cargo build -p fitroom --features ssr --bin fitroom
fi

RUN_DIR=$(mktemp -d /tmp/fitroom-chaos.XXXXXX)
chmod 755 "$RUN_DIR"
S3_PID=""
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  set +e
  [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null
  [ -f "$RUN_DIR/pg/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -m immediate stop >/dev/null 2>&1
  if [ "${CHAOS_KEEP:-}" = 1 ]; then note "kept $RUN_DIR"; else rm -rf "$RUN_DIR"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

step "Starting PostgreSQL and s3s-fs"
PG_PORT=$(free_port)
mkdir -p "$RUN_DIR/pg"
[ "$(id -u)" = 0 ] && chown postgres "$RUN_DIR/pg"
as_pg "$PG_BIN/initdb" -D "$RUN_DIR/pg" -U fitroom --auth=trust -E UTF8 >/dev/null
PG_OPTS="-c listen_addresses=127.0.0.1 -p $PG_PORT -k $RUN_DIR/pg -c max_connections=200 -c fsync=off"
as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -l "$RUN_DIR/pg/server.log" -w -o "$PG_OPTS" start >/dev/null
psql "postgres://fitroom@127.0.0.1:$PG_PORT/postgres" -qc "CREATE DATABASE chaos"
S3_PORT=$(free_port)
mkdir -p "$RUN_DIR/s3/chaos"
s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key chaos-key --secret-key chaos-secret \
  "$RUN_DIR/s3" >"$RUN_DIR/s3.log" 2>&1 &
S3_PID=$!
RESTART="$(printf '%q ' runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -m fast -w -o "$PG_OPTS" restart)"
[ "$(id -u)" = 0 ] || RESTART="$(printf '%q ' "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -m fast -w -o "$PG_OPTS" restart)"

step "Chaos soak: $SECONDS_OF_FAULTS s, seed $SEED"
python3 "$ROOT/scripts/chaos.py" --seconds "$SECONDS_OF_FAULTS" --seed "$SEED" --binary "$BINARY" \
  --dir "$RUN_DIR" --pg-port "$PG_PORT" --pg-restart "$RESTART >/dev/null" \
  --s3-port "$S3_PORT" --s3-root "$RUN_DIR/s3"
