#!/usr/bin/env bash
# The routing benchmark (BENCHMARKS.md): the cost of deciding a route per submission, `ordered`
# against `balanced` over a window of ended jobs, and whole jobs per second through `local` with
# routing and the spend ledger off against on. SQLite, and PostgreSQL on a throwaway cluster.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_bench_postgres

step "Running the routing benchmark (release build)"
cargo bench -p fitroom-server --bench routing
