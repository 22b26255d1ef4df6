#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs what the tests need (Node.js,
# Chromium, redis-server, nginx and openssl from Debian's packages when missing, the JS packages from the
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

# Installs a Debian package whose system service must not start: the tests start their own
# redis-server and nginx on free loopback ports. A policy-rc.d answering 101 ("action
# forbidden") stops the package scripts from starting it. Docker images already have one;
# otherwise one is put in place for the install only.
install_without_service() {
  local policy=/usr/sbin/policy-rc.d placed_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    placed_policy=1
    trap 'rm -f "$policy"' EXIT # also when the install fails
  fi
  apt-get update -qq && apt-get install -y -qq "$@"
  if [ -n "$placed_policy" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
}

if ! command -v redis-server >/dev/null; then
  echo "== installing redis-server for the scale-out tests (Debian package)"
  install_without_service redis-server
fi

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "== installing nginx for the deployment tests (Debian package)"
  install_without_service nginx
fi

if ! command -v openssl >/dev/null; then
  echo "== installing openssl for the deployment tests' certificate (Debian package)"
  apt-get update -qq && apt-get install -y -qq openssl
fi

echo "== cargo test --workspace"
cargo test --workspace --all-targets
cargo test --workspace --doc
