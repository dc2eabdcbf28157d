#!/usr/bin/env bash
# End-to-end pipeline benchmark: events/s from POST /api/events until the event's process_event
# instance has finished (queue → stats, alerts, logging → Completed), then latency from post to
# finished at half that rate. Uses `sluice simulate`, which also checks every stream's stats.
#
#   bench/pipeline.sh [RUNS]
#
# Two set-ups: alerts published in-process only, and every alert also POSTed to a local webhook
# sink (bench/webhook_sink). Prints each run, the medians, and the server's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sluice webhook_sink >/dev/null

work=$(mktemp -d)
server=""
sink=""
cleanup() {
  for pid in $server $sink; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port_from() { until grep -q 'listening on 127.0.0.1:[0-9]*' "$1" 2>/dev/null; do sleep 0.1; done
              grep -o 'listening on 127.0.0.1:[0-9]*' "$1" | grep -o '[0-9]*$'; }
start_server() {  # SETTINGS...: a fresh server on a fresh data directory
  rm -rf "$work/data" "$work/server.log"
  build/release/sluice serve --listen 127.0.0.1:0 --data "$work/data" "$@" 2>"$work/server.log" &
  server=$!
  url="http://127.0.0.1:$(port_from "$work/server.log")"
}
stop_server() {
  peak=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
  kill "$server"; wait "$server" || true; server=""
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
simulate() {  # FLAGS...: runs simulate against $url; fails the benchmark if any stats are wrong
  local out
  out=$(build/release/sluice simulate --url "$url" --streams 100 --quiet "$@")
  grep -q 'stats: all 100 streams exactly as sent' <<<"$out" || { echo "$out"; exit 1; }
  echo "$out"
}

measure() {  # NAME SETTINGS...
  local name=$1; shift
  local rates=() out rate
  for ((i = 1; i <= runs; i++)); do
    start_server "$@"
    out=$(simulate --rate 0 --batch 200 --connections 4 --events 200000 --duration 600)
    stop_server
    rate=$(grep -o '= [0-9]* events/s' <<<"$out" | grep -o '[0-9]*')
    rates+=("$rate")
    echo "$name, unpaced run $i: $rate events/s end to end (server peak RSS ${peak} kB)"
  done
  local best
  best=$(printf '%s\n' "${rates[@]}" | median)
  echo "$name, unpaced median: $best events/s"
  local half=$((best / 2))
  for ((i = 1; i <= runs; i++)); do
    start_server "$@"
    out=$(simulate --rate "$half" --batch 10 --connections 8 --duration 20)
    stop_server
    echo "$name, at $half events/s, run $i: $(grep -o 'p50.*' <<<"$out") ms"
  done
}

measure "in-process alerts"

build/release/bench/webhook_sink 0 >"$work/sink.log" &
sink=$!
sink_url="http://127.0.0.1:$(port_from "$work/sink.log")/hook"
measure "webhook delivery" --set "webhooks.sink.url=$sink_url" --set webhooks.sink.secret=bench
kill "$sink"; wait "$sink" || true; sink=""
echo "webhook sink: $(grep deliveries "$work/sink.log")"
