#!/usr/bin/env bash
# Runs every test: unit and integration (cargo test; a fresh SQLite database per test), then
# end-to-end (Playwright driving Debian's Chromium against the hydrated app, on a fresh demo
# database with fault injection enabled).
set -euo pipefail
export BOOTSTRAP_E2E=1
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

echo "== unit and integration tests"
cargo test -p app -p payout-engine

echo "== end-to-end tests"
"$ROOT/scripts/e2e.sh"
