#!/usr/bin/env bash
# Sets up whatever is missing, builds Fitroom in release mode and runs it on the embedded default:
# a SQLite file and objects under data/, the `local` provider, at http://127.0.0.1:3000.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_build_tools

step "Building Fitroom (release)"
# --precompress writes .gz and .br beside the site's files; leptos_axum serves them to browsers that
# accept them, so the wasm travels compressed without the server compressing anything.
cargo leptos build --release --precompress

step "Starting Fitroom at http://${FITROOM_ADDR:-127.0.0.1:3000} (Ctrl-C stops it)"
exec target/release/fitroom serve
