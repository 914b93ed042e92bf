#!/usr/bin/env bash
# The ledger benchmark (BENCHMARKS.md): freeze+settle pairs per second at 1, 8 and 64 clients on
# SQLite and PostgreSQL, beside the ceilings measured in the same run (a raw SQLite one-row-update
# loop; pgbench's tpcb-like script). PostgreSQL runs with its default durability settings.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_BIN=/usr/lib/postgresql/15/bin
ensure_apt "$PG_BIN/initdb" postgresql-15
RUN_DIR=$(mktemp -d /tmp/fitroom-bench.XXXXXX)
chmod 755 "$RUN_DIR"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() { as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -m immediate stop >/dev/null 2>&1; rm -rf "$RUN_DIR"; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$RUN_DIR/pg" && { [ "$(id -u)" != 0 ] || chown postgres "$RUN_DIR/pg"; }
step "Starting PostgreSQL for the benchmark"
as_pg "$PG_BIN/initdb" -D "$RUN_DIR/pg" -U fitroom --auth=trust >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -l "$RUN_DIR/pg/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $RUN_DIR/pg -c max_connections=300" start >/dev/null
export FITROOM_BENCH_POSTGRES_URL="postgres://fitroom@127.0.0.1:$PORT/postgres"
export PGBENCH="$PG_BIN/pgbench"
"$PGBENCH" -i -s 1 -q "$FITROOM_BENCH_POSTGRES_URL" >/dev/null 2>&1

step "Running the ledger benchmark (release build)"
cargo bench -p fitroom-server --bench ledger
