#!/usr/bin/env bash
# Runs the unit and integration tests (cargo test; a fresh SQLite database per test).
# The Playwright end-to-end suite is ./scripts/e2e.sh (not yet green, so not yet in CI).
set -euo pipefail
export BOOTSTRAP_E2E=0
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

echo "== unit and integration tests"
cargo test -p app -p payout-engine

# End-to-end tests run separately (./scripts/e2e.sh) until they pass: see issue 2's closing note.
