#!/usr/bin/env bash
# Installs what building, running and testing Payout Engine needs on a Debian machine, skipping what is
# already there. Idempotent: safe to run before every `run`/`test`. Prints the toolchain environment to
# use as shell `export` lines on stdout's last lines when called with `--print-env`.
#
# Why this shape: see ../shared/TOOLCHAIN.md. The rustup toolchain here has no wasm32 std and rustup's
# servers are unreachable, so we use Debian's rustc-web (1.96) with a wasm32 std built once from source.
set -euo pipefail

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# Only the `--print-env` lines may reach stdout (callers eval it); every installer's chatter (npm prints
# "added N packages" on stdout) goes to stderr.
exec 3>&1 1>&2

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARGO_LEPTOS_VERSION=0.3.11
WASM_BINDGEN_VERSION=0.2.130
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ $apt_updated = 0 ]; then
      log "apt-get update"
      $SUDO apt-get update -qq
      apt_updated=1
    fi
    log "apt-get install ${missing[*]}"
    local apt_log
    apt_log=$(mktemp)
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >"$apt_log" 2>&1; then
      # Seen on a fresh CI machine: a package's post-install script failed once (dpkg exit 1) and
      # configured fine on the next attempt. Show why, let dpkg finish, retry once, then give up.
      log "apt-get install failed; its last lines:"
      tail -n 40 "$apt_log" >&2
      log "retrying once after 'dpkg --configure -a'"
      DEBIAN_FRONTEND=noninteractive $SUDO dpkg --configure -a >&2 || log "dpkg --configure -a failed too"
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
    fi
    rm -f "$apt_log"
  fi
}

has_wasm_std() {
  local libdir
  libdir=$("$@" --print target-libdir --target wasm32-unknown-unknown 2>/dev/null) || return 1
  compgen -G "$libdir/libstd-*.rlib" >/dev/null
}

# 1. Toolchain with a wasm32 std.
TOOLCHAIN_MODE=""
if has_wasm_std rustc; then
  TOOLCHAIN_MODE="active"
  log "active rustc has the wasm32 std"
elif command -v apt-get >/dev/null; then
  TOOLCHAIN_MODE="debian"
  apt_install rustc-web cargo-web rust-web-src rust-web-clippy lld-22
  if ! has_wasm_std /usr/bin/rustc; then
    log "building the wasm32 std into Debian's sysroot (~30 s)"
    scratch=$(mktemp -d)
    mkdir -p "$scratch/src"
    printf '[package]\nname = "wasmstd"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "src/lib.rs"\n' >"$scratch/Cargo.toml"
    : >"$scratch/src/lib.rs"
    (cd "$scratch" && PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Cembed-bitcode=yes \
      CARGO_TARGET_DIR="$scratch/target" /usr/bin/cargo build --quiet --release \
      --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort)
    sysroot=$(/usr/bin/rustc --print sysroot)
    $SUDO mkdir -p "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib"
    $SUDO cp "$scratch"/target/wasm32-unknown-unknown/release/deps/lib*.rlib \
      "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib/"
    rm -rf "$scratch"
  fi
  if command -v rustup >/dev/null && ! rustup toolchain list | grep -q '^debian'; then
    rustup toolchain link debian /usr
  fi
else
  TOOLCHAIN_MODE="rustup"
  log "rustup target add wasm32-unknown-unknown"
  timeout 300 rustup target add wasm32-unknown-unknown || {
    log "ERROR: could not install the wasm32 target; install it by hand and re-run"; exit 1; }
fi

cargo_for_install() {
  if [ "$TOOLCHAIN_MODE" = debian ]; then PATH=/usr/bin:$PATH /usr/bin/cargo "$@"; else cargo "$@"; fi
}

# 2. Build tools.
if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  log "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (~25 min on 2 cores)"
  cargo_for_install install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION" --root "$HOME/.cargo"
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (~3 min)"
  # Without --locked: its lock file pins a crate version missing from the index.
  cargo_for_install install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$HOME/.cargo"
fi

# 3. xmllint, which the tests use to validate the pain.001 bank files against the SIX schema;
# pdftotext, which reads the payout slips' text back.
apt_install libxml2-utils poppler-utils

# 4. Browser and end-to-end test tools, when asked.
if [ "${BOOTSTRAP_E2E:-1}" = 1 ]; then
  apt_install chromium
  if [ -f "$ROOT/end2end/package.json" ]; then
    if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ] || [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
      log "npm ci in end2end/"
      (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  fi
fi

# 5. PostgreSQL server for the second backend's tests, when asked.
if [ "${BOOTSTRAP_POSTGRES:-0}" = 1 ]; then
  apt_install postgresql
fi

if [ "${1:-}" = "--print-env" ]; then
  if [ "$TOOLCHAIN_MODE" = debian ]; then
    echo "export RUSTUP_TOOLCHAIN=debian" >&3
  fi
  echo "export PATH=\"$HOME/.cargo/bin:$ROOT/end2end/node_modules/.bin:\$PATH\"" >&3
fi
log "ready ($TOOLCHAIN_MODE toolchain)"
