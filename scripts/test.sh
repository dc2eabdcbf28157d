#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite: unit and integration tests on the
# release build, then again under AddressSanitizer and UndefinedBehaviorSanitizer; the
# concurrency tests (queue, engine, webhooks, storage) under ThreadSanitizer; then each libFuzzer
# target for a bounded time from its seed corpus (clang 14, ASan + UBSan). clang-tidy checks the
# sources after the release build; its bug-prone findings fail the run (.clang-tidy).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# Builds one at a time: each build uses every core. Tests run two at a time (the presets' jobs):
# most of them wait on a child process or the network.
for preset in release asan tsan fuzz; do
  echo "== ${preset}: build"
  cmake --preset "${preset}" >/dev/null
  cmake --build --preset "${preset}"
  echo "== ${preset}: test"
  ctest --preset "${preset}"
  if [[ ${preset} == release ]]; then
    echo "== clang-tidy"
    run-clang-tidy-14 -p build/release -quiet -extra-arg=-Wno-unknown-warning-option \
      "$(pwd)/src/.*\.cc$"
  fi
done
