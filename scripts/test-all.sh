#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need (Node.js
# and Chromium from Debian's packages when missing, the JS packages from the committed
# lockfile), then runs them all.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing Node.js (Debian packages)"
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi

echo "== installing the JS test packages (tests/js/package-lock.json)"
npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Chromium for the browser tests (Debian package)"
  apt-get update -qq && apt-get install -y -qq chromium
fi

echo "== cargo test --workspace"
cargo test --workspace --all-targets
cargo test --workspace --doc
