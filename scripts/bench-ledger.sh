#!/usr/bin/env bash
# The ledger benchmark (BENCHMARKS.md): freeze+settle pairs per second at 1, 8 and 64 clients on
# SQLite and PostgreSQL, beside the ceilings measured in the same run (a raw SQLite one-row-update
# loop; pgbench's tpcb-like script), and PostgreSQL again through PgBouncer in transaction mode
# (16 server connections) against pgbench through the same PgBouncer. PostgreSQL runs with its
# default durability settings.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_bench_postgres
"$PGBENCH" -i -s 1 -q "$FITROOM_BENCH_POSTGRES_URL" >/dev/null 2>&1
PG_PORT=${FITROOM_BENCH_POSTGRES_URL##*:}; PG_PORT=${PG_PORT%%/*}
export FITROOM_BENCH_PGBOUNCER_URL=$(start_pgbouncer "$PG_PORT" "$BENCH_DIR/pgbouncer" 16)

step "Running the ledger benchmark (release build)"
cargo bench -p fitroom-server --bench ledger
