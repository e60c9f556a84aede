#!/usr/bin/env bash
# Release-mode benchmark: payouts of 210 and 10,000 records (engine vs naive vs bare-SQL floor, and
# over HTTP), peak RSS, then the release WASM bundle size (raw and gzipped).
set -euo pipefail
export BOOTSTRAP_E2E=1
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -sr)"
cargo bench -p payout-engine --bench payout
cargo leptos build --release >/dev/null
wasm=$(ls target/site/pkg/*.wasm)
echo "release WASM: $(stat -c %s "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) bytes gzipped ($wasm)"
