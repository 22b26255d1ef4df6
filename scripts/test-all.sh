#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need (Node.js,
# Chromium and redis-server from Debian's packages when missing, the JS packages from the
# committed lockfile), then runs them all.
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

if ! command -v redis-server >/dev/null; then
  echo "== installing redis-server for the scale-out tests (Debian package)"
  # The tests start their own redis-server on free loopback ports, so the package's system
  # service must not start: a policy-rc.d answering 101 ("action forbidden") stops the package
  # scripts from starting it. Docker images already have one; otherwise one is put in place
  # for the install only.
  policy=/usr/sbin/policy-rc.d
  placed_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    placed_policy=1
    trap 'rm -f "$policy"' EXIT # also when the install fails
  fi
  apt-get update -qq && apt-get install -y -qq redis-server
  if [ -n "$placed_policy" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
fi

echo "== cargo test --workspace"
cargo test --workspace --all-targets
cargo test --workspace --doc
