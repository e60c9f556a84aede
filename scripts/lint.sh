#!/usr/bin/env bash
# Formatting and clippy with -D warnings for both builds: the server (ssr) and the browser (hydrate,
# wasm32).
set -euo pipefail
export BOOTSTRAP_E2E=0
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# rustfmt ships with rustup's toolchain, not Debian's.
RUSTUP_TOOLCHAIN=stable cargo fmt --all --check
cargo clippy -p app -p payout-engine --all-targets --features app/ssr -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
