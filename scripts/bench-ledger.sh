#!/usr/bin/env bash
# The ledger benchmark (BENCHMARKS.md): freeze+settle pairs per second at 1, 8 and 64 clients on
# SQLite and PostgreSQL, beside the ceilings measured in the same run (a raw SQLite one-row-update
# loop; pgbench's tpcb-like script). PostgreSQL runs with its default durability settings.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_bench_postgres
"$PGBENCH" -i -s 1 -q "$FITROOM_BENCH_POSTGRES_URL" >/dev/null 2>&1

step "Running the ledger benchmark (release build)"
cargo bench -p fitroom-server --bench ledger
