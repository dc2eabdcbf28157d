#!/usr/bin/env bash
# Installs every Debian 12 package sluice needs to build, run, test and benchmark, then the test
# tools from npm (tests/node: the Azure emulators and SDKs) exactly as package-lock.json locks
# them. Idempotent: what is already present is left alone. Runs as root, or through sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang-14 libclang-rt-14-dev clang-format clang-tidy
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  librocksdb-dev libsimdjson-dev libpq-dev postgresql-15 libcurl4-openssl-dev libssl-dev libjemalloc-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js runs the test tools (the locked SDKs ask for 20 or later); a machine without it gets
# Debian's.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

tools="$(dirname "$0")/../tests/node"
if [ ! "${tools}/node_modules/.package-lock.json" -nt "${tools}/package-lock.json" ]; then
  npm ci --prefix "${tools}" --no-audit --no-fund --loglevel=error
fi
