#!/usr/bin/env bash
# Release-mode benchmark: payouts of 210 and 10,000 records (engine vs naive vs bare-SQL floor, and
# over HTTP), peak RSS, SQLite and PostgreSQL side by side (payouts, and service registration
# throughput at 64 concurrent HTTP clients), payment-event ingestion (batch endpoint, 64 single-event
# clients, bare-SQL floor, the 1.2M-event replay), then the release WASM bundle size (raw and gzipped).
set -euo pipefail
export BOOTSTRAP_E2E=1
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -sr)"
cargo bench -p payout-engine --bench payout
eval "$(bash "$ROOT/scripts/postgres.sh")"
cargo bench -p payout-engine --bench backends
cargo bench -p payout-engine --bench payment_events
cargo leptos build --release --split >/dev/null
# The main bundle (loaded by every page) and the lazy chunks of the pages (--split), each gzipped.
wasm=target/site/pkg/payout-engine.wasm
echo "release WASM (main bundle): $(stat -c %s "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) bytes gzipped ($wasm)"
raw=0; gz=0; n=0
for chunk in target/site/pkg/*.wasm; do
  raw=$((raw + $(stat -c %s "$chunk"))); gz=$((gz + $(gzip -9 -c "$chunk" | wc -c))); n=$((n + 1))
done
echo "release WASM (all $n files, main + lazy chunks): $raw bytes, $gz bytes gzipped file by file"
# What one page loads: the main bundle plus the chunks the split manifest lists for its route.
node -e '
const fs = require("fs"), cp = require("child_process"), pkg = "target/site/pkg";
const gz = (name) => Number(cp.execSync(`gzip -9 -c ${pkg}/${name}.wasm | wc -c`));
const manifest = JSON.parse(fs.readFileSync(`${pkg}/__wasm_split_manifest.json`, "utf8"));
const main = gz("payout-engine");
for (const [route, chunks] of Object.entries(manifest)) {
  const page = route.replace(/^_+/, "").replace(/_route_view_\d+$/, "");
  const total = chunks.reduce((sum, chunk) => sum + gz(chunk), main);
  console.log(`release WASM for the ${page} page (main + ${chunks.length} chunks): ${total} bytes gzipped`);
}'
