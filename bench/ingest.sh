#!/usr/bin/env bash
# Ingest benchmark: durable events/s through POST /api/events, measured with wrk on this
# machine against a release build with a fresh data directory.
#
#   bench/ingest.sh [RUNS] [SECONDS]
#
# Scenarios: single events over 64 keep-alive connections; NDJSON batches of 1,000 events over
# 4 connections. Prints each run's events/s, the median, and the server's peak resident memory.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
seconds=${2:-10}
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sluice >/dev/null

data=$(mktemp -d)
log=$(mktemp)
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data" "$log"' EXIT
# Ingest alone: processing is paused, as it was when these figures were first taken (before the
# pipeline existed). End-to-end figures come from the pipeline's own benchmark.
build/release/sluice serve --listen 127.0.0.1:0 --data "$data" --set pipeline.paused=true 2>"$log" &
server=$!
until port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$'); do sleep 0.1; done
url="http://127.0.0.1:$port"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

scenario() {  # NAME CONNECTIONS SCRIPT
  local name=$1 connections=$2 script=$3 results=()
  for ((i = 1; i <= runs; i++)); do
    local out
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" -s "bench/$script" "$url" 2>&1)
    local rate errors p99
    rate=$(grep -o 'RATE [0-9]*' <<<"$out" | awk '{print $2}')
    errors=$(grep -o 'ERRORS [0-9]*' <<<"$out" | awk '{print $2}')
    p99=$(grep -o 'P99_MS [0-9.]*' <<<"$out" | awk '{print $2}')
    [ "$errors" = 0 ] || { echo "$name: $errors failed requests"; echo "$out"; exit 1; }
    results+=("$rate")
    echo "$name run $i: $rate events/s, request p99 $p99 ms"
  done
  echo "$name median: $(printf '%s\n' "${results[@]}" | median) events/s"
}

scenario "single, 64 connections" 64 ingest_single.lua
scenario "ndjson x1000, 4 connections" 4 ingest_batch.lua
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"
echo "queue: $(curl -s "$url/api/queue")"
