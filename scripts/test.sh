#!/usr/bin/env bash
# Runs every test: unit and integration tests on SQLite (a fresh database file per test), the
# integration tests again on PostgreSQL (a fresh database per test on a local server that
# scripts/postgres.sh installs and starts, or on the server PAYOUT_ENGINE_TEST_POSTGRES_URL names),
# then end-to-end (Playwright driving Debian's Chromium against the hydrated app, on a fresh demo
# database with fault injection enabled). A PostgreSQL that cannot be reached fails the run.
set -euo pipefail
export BOOTSTRAP_E2E=1
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# A full disk shows up as "database or disk is full" deep inside some test; say it up front.
free_gb=$(df -P -BG "$ROOT" | awk 'NR == 2 { sub("G", "", $4); print $4 }')
echo "== free disk space: ${free_gb} GB (a cold build and the test databases need about 20 GB)"
if [ "$free_gb" -lt 20 ]; then
    echo "warning: less than 20 GB free; tests may fail with 'database or disk is full'" >&2
fi

echo "== unit and integration tests (SQLite)"
cargo test -p app -p payout-engine

echo "== integration tests (PostgreSQL)"
eval "$(bash "$ROOT/scripts/postgres.sh")"
bash "$ROOT/scripts/postgres.sh" drop-test-databases
PAYOUT_ENGINE_TEST_DATABASE=postgres cargo test -p payout-engine
bash "$ROOT/scripts/postgres.sh" drop-test-databases

echo "== end-to-end tests"
"$ROOT/scripts/e2e.sh"
