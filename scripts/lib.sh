# Shared by scripts/run.sh and scripts/test.sh: install what is missing, idempotently, and say so.
# Only the package registries (crates.io, npm, Debian) are reachable, so every tool comes from one.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"

CARGO_LEPTOS_VERSION=0.3.11
WASM_BINDGEN_VERSION=0.2.130
S3S_FS_VERSION=0.14.1

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages, installed only when a command they provide is missing.
ensure_apt() {
  local missing=()
  while [ $# -gt 0 ]; do
    local cmd=$1 pkg=$2; shift 2
    command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ] || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then return; fi
  step "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y --no-install-recommends "${missing[@]}" \
    || { as_root apt-get update && as_root apt-get install -y --no-install-recommends "${missing[@]}"; }
}

ensure_wasm_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    step "Adding the wasm32-unknown-unknown Rust target"
    rustup target add wasm32-unknown-unknown
  fi
}

# Installs a crate's published source with one dependency pinned back, because the newest
# version of that dependency needs a newer Rust than this machine's (see docs/build.md).
install_pinned_crate() {
  local crate=$1 version=$2 pin=$3 pin_version=$4; shift 4
  local src
  cargo info "$crate@$version" >/dev/null 2>&1 || true
  src=$(ls -d "$HOME"/.cargo/registry/src/*/"$crate-$version" 2>/dev/null | head -n1)
  if [ -z "$src" ]; then
    # `cargo info` may not unpack the crate: fetch it through a throwaway manifest.
    local tmp; tmp=$(mktemp -d)
    mkdir -p "$tmp/src" && echo 'fn main() {}' > "$tmp/src/main.rs"
    printf '[package]\nname = "fetch-%s"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
      "$crate" "$crate" "$version" > "$tmp/Cargo.toml"
    (cd "$tmp" && cargo fetch >/dev/null 2>&1) || true
    rm -rf "$tmp"
    src=$(ls -d "$HOME"/.cargo/registry/src/*/"$crate-$version" 2>/dev/null | head -n1)
  fi
  [ -n "$src" ] || { echo "cannot fetch the source of $crate $version from crates.io" >&2; exit 1; }
  local work; work=$(mktemp -d)
  cp -r "$src" "$work/$crate"
  (
    cd "$work/$crate"
    cargo update -p "$pin" --precise "$pin_version"
    CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install --path . --locked "$@"
  )
  rm -rf "$work"
}

ensure_cargo_leptos() {
  if cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then return; fi
  step "Installing cargo-leptos $CARGO_LEPTOS_VERSION (offline build; about 15 minutes, once)"
  install_pinned_crate cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-util-schemas 0.14.1 --features no_downloads
}

ensure_wasm_bindgen() {
  if wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then return; fi
  step "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes, once)"
  install_pinned_crate wasm-bindgen-cli "$WASM_BINDGEN_VERSION" webpki-roots 1.0.10
}

ensure_s3s_fs() {
  if command -v s3s-fs >/dev/null 2>&1; then return; fi
  step "Installing s3s-fs $S3S_FS_VERSION, the S3-compatible server the tests use (about 4 minutes, once)"
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install "s3s-fs@$S3S_FS_VERSION" --features binary --locked
}

# Tailwind, wasm-opt (npm binaryen: Debian's is too old to produce wasm that hydrates), Playwright.
ensure_npm_packages() {
  if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then return; fi
  step "Installing npm packages (Tailwind, binaryen's wasm-opt, Playwright)"
  # `npm ci` refuses this lock file on npm 11 (it lists only this platform's optional Tailwind
  # binaries), so install from it without demanding an exact match.
  npm install --no-audit --no-fund --loglevel=error
}

ensure_build_tools() {
  ensure_wasm_target
  ensure_npm_packages
  ensure_wasm_bindgen
  ensure_cargo_leptos
}

# Starts Debian's PgBouncer in transaction mode in `dir`, in front of every database of the
# PostgreSQL cluster on 127.0.0.1:`pg_port` (user fitroom, trust), on a free loopback port, with
# `pool_size` server connections per database. Prints the pooler's base URL (no database name);
# stop it with `kill "$(cat dir/pgbouncer.pid)"`. PgBouncer refuses to run as root, like initdb.
start_pgbouncer() {
  local pg_port=$1 dir=$2 pool_size=$3 port
  ensure_apt /usr/sbin/pgbouncer pgbouncer >&2
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$dir"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = $pool_size
max_client_conn = 900
max_user_connections = 120
server_idle_timeout = 2
autodb_idle_timeout = 30
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  echo '"fitroom" ""' >"$dir/users.txt"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$dir"
    runuser -u postgres -- pgbouncer -d "$dir/pgbouncer.ini"
  else
    pgbouncer -d "$dir/pgbouncer.ini"
  fi
  echo "postgres://fitroom@127.0.0.1:$port"
}

# Benchmarks: a throwaway PostgreSQL 15 cluster with default durability on a free loopback port,
# stopped on exit. Sets FITROOM_BENCH_POSTGRES_URL and PGBENCH.
start_bench_postgres() {
  local pg_bin=/usr/lib/postgresql/15/bin
  ensure_apt "$pg_bin/initdb" postgresql-15
  BENCH_DIR=$(mktemp -d /tmp/fitroom-bench.XXXXXX)
  chmod 755 "$BENCH_DIR"
  mkdir -p "$BENCH_DIR/pg"
  [ "$(id -u)" != 0 ] || chown postgres "$BENCH_DIR/pg"
  bench_as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  # A PgBouncer started in $BENCH_DIR/pgbouncer (start_pgbouncer) goes with it.
  trap '[ -f "$BENCH_DIR/pgbouncer/pgbouncer.pid" ] && kill "$(cat "$BENCH_DIR/pgbouncer/pgbouncer.pid")"; bench_as_pg '"$pg_bin"'/pg_ctl -D "$BENCH_DIR/pg" -m immediate stop >/dev/null 2>&1; rm -rf "$BENCH_DIR"' EXIT
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  step "Starting PostgreSQL for the benchmark"
  bench_as_pg "$pg_bin/initdb" -D "$BENCH_DIR/pg" -U fitroom --auth=trust >/dev/null
  bench_as_pg "$pg_bin/pg_ctl" -D "$BENCH_DIR/pg" -l "$BENCH_DIR/pg/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $BENCH_DIR/pg -c max_connections=300" start >/dev/null
  export FITROOM_BENCH_POSTGRES_URL="postgres://fitroom@127.0.0.1:$port/postgres"
  export PGBENCH="$pg_bin/pgbench"
}
