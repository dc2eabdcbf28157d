#!/usr/bin/env bash
# Recovery after SIGKILL with a full intake queue: how long from restarting the server until it
# processes again, and that everything queued is then processed exactly once.
#
#   bench/recovery.sh [EVENTS] [RUNS]      (defaults: 1000000 events, 3 runs)
#
# Each run: a server with processing paused takes EVENTS events (NDJSON batches of 1,000), is
# killed with SIGKILL, and is started again with processing on. Reported per run: seconds from
# the restart until the server listens, until the first instance has finished, and until the
# queue is drained; then that every event Completed once.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
runs=${2:-3}
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sluice >/dev/null

work=$(mktemp -d)
server=""
cleanup() {
  if [[ -n $server ]]; then kill -9 "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
port_from() { until grep -q 'listening on 127.0.0.1:[0-9]*' "$1" 2>/dev/null; do sleep 0.01; done
              grep -o 'listening on 127.0.0.1:[0-9]*' "$1" | grep -o '[0-9]*$'; }
metric() {  # NAME: its value from GET /metrics
  curl -sf "$url/metrics" | awk -v name="$1" '$1 == name {print $2}'
}

for ((run = 1; run <= runs; run++)); do
  rm -rf "$work/data"
  build/release/sluice serve --listen 127.0.0.1:0 --data "$work/data" --set pipeline.paused=true \
    2>"$work/first.log" &
  server=$!
  url="http://127.0.0.1:$(port_from "$work/first.log")"
  build/release/sluice bench --url "$url" --events "$events" --batch 1000 --accept-only >/dev/null
  depth=$(metric sluice_intake_queue_depth)
  kill -9 "$server"; wait "$server" 2>/dev/null || true

  started=$(now)
  build/release/sluice serve --listen 127.0.0.1:0 --data "$work/data" 2>"$work/second.log" &
  server=$!
  url="http://127.0.0.1:$(port_from "$work/second.log")"
  listening=$(now)
  until [[ $(metric 'sluice_instances_finished_total{status="Completed"}') != 0 ]]; do sleep 0.01; done
  processing=$(now)
  until [[ $(metric sluice_intake_queue_depth) == 0 && $(metric sluice_instances_running) == 0 ]]; do
    sleep 0.1
  done
  drained=$(now)
  completed=$(metric 'sluice_instances_finished_total{status="Completed"}')
  failed=$(metric 'sluice_instances_finished_total{status="Failed"}')
  kill "$server"; wait "$server" || true; server=""
  echo "run $run: $depth queued at the kill; after restart: listening $(elapsed "$started" "$listening") s," \
       "first Completed $(elapsed "$started" "$processing") s, drained $(elapsed "$started" "$drained") s;" \
       "$completed Completed, $failed Failed"
  [[ $completed == "$depth" && $failed == 0 ]] || { echo "FAILED: not every queued event Completed once"; exit 1; }
done
