#!/usr/bin/env bash
# Sets up whatever is missing, builds Fitroom in release mode and runs it on the embedded default:
# a SQLite file and objects under data/, the `local` provider, at http://127.0.0.1:3000.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_build_tools

step "Building Fitroom (release)"
cargo leptos build --release

step "Starting Fitroom at http://${FITROOM_ADDR:-127.0.0.1:3000} (Ctrl-C stops it)"
exec target/release/fitroom serve
