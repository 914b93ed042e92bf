#!/usr/bin/env bash
# The web benchmark (BENCHMARKS.md, issue 7): builds the release site, serves it from a throwaway
# SQLite database on a free port, and measures the try-on page in Debian's Chromium with 4× CPU
# throttling: wasm/JS/CSS bytes transferred and time to interactive, beside the same page with
# JavaScript disabled as the floor (scripts/bench-web.mjs). BENCH_LOADS sets the loads per kind (7).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_apt /usr/lib/chromium/chromium chromium
ensure_build_tools

step "Building the release site (as scripts/run.sh does)"
cargo leptos build --release --precompress
# The binary lands in CARGO_TARGET_DIR when it is set; the site always in target/site (Cargo.toml).
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SITE="$ROOT/target/site"

step "Release assets: raw, gzip -9 (the issue's budget) and the precompressed files the server sends"
for f in "$SITE"/pkg/*.wasm "$SITE"/pkg/*.js "$SITE"/pkg/*.css; do
  printf '    %-18s %9d B raw %9d B gzip -9 %9d B .gz %9d B .br\n' "$(basename "$f")" "$(wc -c <"$f")" \
    "$(gzip -9 -c "$f" | wc -c)" "$(wc -c <"$f.gz")" "$(wc -c <"$f.br")"
done

RUN_DIR=$(mktemp -d /tmp/fitroom-bench-web.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
step "Starting the release server on 127.0.0.1:$PORT"
FITROOM_ADDR="127.0.0.1:$PORT" DATABASE_URL="sqlite://$RUN_DIR/fitroom.db" FITROOM_DATA_DIR="$RUN_DIR" \
  LEPTOS_SITE_ROOT="$SITE" RUST_LOG=warn "$TARGET/release/fitroom" serve >"$RUN_DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$RUN_DIR/server.log"; exit 1; }
  sleep 0.2
done

step "Measuring the try-on page (Chromium, 4× CPU throttling)"
node "$ROOT/scripts/bench-web.mjs" "http://127.0.0.1:$PORT"
