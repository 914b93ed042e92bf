#!/usr/bin/env bash
# The status-endpoint benchmark (BENCHMARKS.md): wrk at 64 connections against
# GET /api/generations/{id} and, in the same process and run, against a bare axum JSON handler;
# then whole jobs through the `local` provider with no delay, and the CPU time per job.
# SQLite, and PostgreSQL on a throwaway cluster with default durability.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_apt wrk wrk
start_bench_postgres

step "Running the status-endpoint and jobs benchmark (release build)"
cargo bench -p fitroom-server --bench status
