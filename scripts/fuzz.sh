#!/usr/bin/env bash
# Runs each fuzz target for a bounded time (default 60 s each): webhook verification and parsing
# (local provider, Stripe, Replicate, fal, FASHN and Evolink), upload sniffing/decoding and the
# sign-in redirect (`next`). Needs the nightly toolchain; installs
# cargo-fuzz from crates.io when missing. Usage: ./scripts/fuzz.sh [seconds] [target…]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(upload_image webhook_local webhook_stripe webhook_replicate webhook_fal webhook_unsigned redirect_next)

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  step "Installing cargo-fuzz (nightly)"
  CARGO_PROFILE_RELEASE_LTO=off cargo +nightly install cargo-fuzz --locked
fi
cd fuzz
for target in "${TARGETS[@]}"; do
  step "Fuzzing $target for ${SECONDS_EACH}s"
  cargo +nightly fuzz run "$target" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096
done
step "No crash found"
