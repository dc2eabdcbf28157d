#!/usr/bin/env bash
# Sets everything up, builds the release binary and runs `sluice serve` on the embedded default
# (RocksDB under ./data, listening on 127.0.0.1:7070). Extra arguments go to `sluice serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sluice
exec build/release/sluice serve "$@"
