#!/usr/bin/env bash
# Issue 17's decode-bomb figure: a 20000×20000 PNG of about a megabyte (zlib-compressed zero
# rows), posted three times to a debug `fitroom serve` on a throwaway SQLite database. Prints each
# answer's status and time and the process's peak RSS before and after. Needs target/debug/fitroom
# (built by ./scripts/test.sh or `cargo build --features ssr`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DIR=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null; rm -rf "$DIR"' EXIT
python3 - "$DIR/bomb.png" <<'PY'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
width = height = 20000
packer = zlib.compressobj(9)
row = b'\0' * (width * 3 + 1)
idat = b''.join(packer.compress(row) for _ in range(height)) + packer.flush()
ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
with open(sys.argv[1], 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', idat) + chunk(b'IEND', b''))
PY
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
FITROOM_ADDR=127.0.0.1:$PORT DATABASE_URL="sqlite://$DIR/fitroom.db" FITROOM_DATA_DIR="$DIR" \
  RUST_LOG=warn target/debug/fitroom serve >"$DIR/log" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
curl -s -c "$DIR/cookies" -H 'content-type: application/json' \
  -d '{"email":"bomb@example.com","password":"correct horse battery"}' \
  "http://127.0.0.1:$PORT/api/auth/register" >/dev/null
note "bomb: $(stat -c %s "$DIR/bomb.png") bytes; before: $(grep VmHWM /proc/$PID/status)"
echo 5 > /proc/$PID/clear_refs 2>/dev/null || true
for _ in 1 2 3; do
  curl -s -b "$DIR/cookies" -o /dev/null -w '    %{http_code} in %{time_total}s\n' \
    -F person_image=@"$DIR/bomb.png" -F prompt='a coat' "http://127.0.0.1:$PORT/api/generations"
done
note "after: $(grep VmHWM /proc/$PID/status)"
