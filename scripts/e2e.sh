#!/usr/bin/env bash
# End-to-end tests: Playwright driving Debian's Chromium against the hydrated app, on a fresh demo
# database with fault injection enabled. Part of ./scripts/test.sh; runnable alone.
set -euo pipefail
export BOOTSTRAP_E2E=1
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
mkdir -p target/e2e
rm -f target/e2e/payout-engine.db target/e2e/payout-engine.db-*
export DATABASE_URL=sqlite://target/e2e/payout-engine.db
export PAYOUT_ENGINE_DEMO=1
export PAYOUT_ENGINE_FAULT_INJECTION=1
# The webhook test runs its receiver on 127.0.0.1 (loopback is refused by default: SSRF).
export PAYOUT_ENGINE_WEBHOOK_ALLOW_DESTINATIONS=loopback
# --split: every page but Home is a lazy route, a WASM chunk of its own (see app/src/pages/mod.rs).
cargo leptos end-to-end --split
