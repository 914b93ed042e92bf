#!/usr/bin/env bash
# The mirror benchmark (BENCHMARKS.md): a 20 MiB output copied from an HTTP source into local disk
# and into s3s-fs, against curl copying the same object into the same store (`curl -o file`,
# `curl -T` into s3s-fs), with the peak RSS each concurrent mirror adds. The source is Python's http.server, so
# Fitroom's own process holds only the mirror.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_s3s_fs
command -v curl >/dev/null || ensure_apt curl curl

RUN_DIR=$(mktemp -d /tmp/fitroom-bench-mirror.XXXXXX)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done; rm -rf "$RUN_DIR"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

step "Serving a 20 MiB PNG-typed object over HTTP"
mkdir -p "$RUN_DIR/source" "$RUN_DIR/s3/fitroom-bench" "$RUN_DIR/work"
# PNG signature, then incompressible bytes: the mirror checks the type, nothing compresses.
{ printf '\x89PNG\r\n\x1a\n'; head -c $((20 * 1024 * 1024 - 8)) /dev/urandom; } > "$RUN_DIR/source/output.png"
{ printf '\x89PNG\r\n\x1a\n'; head -c $((64 * 1024)) /dev/urandom; } > "$RUN_DIR/source/small.png"
HTTP_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$RUN_DIR/source" "$HTTP_PORT" >/dev/null 2>&1 &
PIDS+=($!)

step "Starting s3s-fs"
S3_PORT=$(free_port)
s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key bench-key --secret-key bench-secret "$RUN_DIR/s3" \
  >"$RUN_DIR/s3.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/small.png" && curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break
  sleep 0.1
done

export FITROOM_BENCH_SOURCE_FILE="$RUN_DIR/source/output.png"
export FITROOM_BENCH_SOURCE_URL="http://127.0.0.1:$HTTP_PORT/output.png"
export FITROOM_BENCH_SMALL_URL="http://127.0.0.1:$HTTP_PORT/small.png"
export FITROOM_BENCH_DIR="$RUN_DIR/work"
export FITROOM_BENCH_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export FITROOM_BENCH_S3_BUCKET=fitroom-bench
export FITROOM_BENCH_S3_ACCESS_KEY=bench-key
export FITROOM_BENCH_S3_SECRET_KEY=bench-secret

step "Running the mirror benchmark (release build)"
cargo bench -p fitroom-server --bench mirror
