#!/usr/bin/env bash
# Builds and serves Payout Engine with the demo data set on the embedded SQLite database.
# Usage: ./scripts/run.sh            (debug build, http://127.0.0.1:3000)
#        RELEASE=1 ./scripts/run.sh  (optimised build)
set -euo pipefail
# --split everywhere: every page but Home is a lazy route, a WASM chunk of its own.
BOOTSTRAP_E2E=${RELEASE:+1}
export BOOTSTRAP_E2E=${BOOTSTRAP_E2E:-0}
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export DATABASE_URL=${DATABASE_URL:-sqlite://data/payout-engine.db}
export PAYOUT_ENGINE_DEMO=${PAYOUT_ENGINE_DEMO:-1}
echo "Payout Engine: database $DATABASE_URL; open http://127.0.0.1:3000/ once it says 'running'."
echo "No logins yet: pick Reception, Payouts (owner) or Employees from the top bar."
if [ "${RELEASE:-0}" = 1 ]; then
  exec cargo leptos serve --release --split
else
  exec cargo leptos serve --split
fi
