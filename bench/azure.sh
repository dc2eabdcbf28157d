#!/usr/bin/env bash
# Azure interop throughput: events drained from an Azure Storage queue (Azurite) into sluice and
# mirrored into Cosmos DB (the @vercel/cosmosdb-server emulator), with each process's CPU.
#
#   bench/azure.sh [MESSAGES] [RUNS]      (defaults: 10000 messages of one event each, 3 runs)
#
# Each run: Microsoft's SDK (tests/node/azure_queue.js) fills the queue `alerts` first; then a
# fresh sluice drains it. Reported per run: seconds until every event's orchestration completed
# (drained and processed) and until the Cosmos outbox is empty (mirrored), events/s for both, and
# the CPU seconds sluice, Azurite and the Cosmos emulator spent in that time.
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-10000}
runs=${2:-3}
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sluice >/dev/null

work=$(mktemp -d)
threads=$(mktemp)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work" "$threads"
}
trap cleanup EXIT

tools=tests/node
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
cosmos_key='C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=='
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }  # the same clock as Python's time.time()
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }  # user+system seconds (USER_HZ 100)
wait_for() { until grep -q "$2" "$1" 2>/dev/null; do sleep 0.05; done; }
# A fresh sluice writing to the Cosmos emulator on $cosmos_port, with the settings given; sets
# $sluice and $url.
start_sluice() {
  build/release/sluice serve --listen 127.0.0.1:0 --data "$work/data" \
    --set "azure.cosmos=AccountEndpoint=http://127.0.0.1:$cosmos_port/;AccountKey=$cosmos_key;" \
    "$@" 2>"$work/sluice.log" &
  sluice=$!
  pids+=("$sluice")
  wait_for "$work/sluice.log" "listening on"
  url="http://127.0.0.1:$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/sluice.log" | grep -o '[0-9]*$')"
}

printf '| run | drained, s | events/s | mirrored, s | events/s | CPU s: sluice | Azurite | Cosmos emulator |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for ((run = 1; run <= runs; run++)); do
  rm -rf "$work"/*
  queue_port=$(free_port)
  cosmos_port=$(free_port)
  node $tools/node_modules/azurite/dist/src/queue/main.js --queueHost 127.0.0.1 \
    --queuePort "$queue_port" --location "$work/azurite" --skipApiVersionCheck \
    --disableTelemetry --loose --silent >"$work/azurite.log" 2>&1 &
  azurite=$!
  node $tools/node_modules/@vercel/cosmosdb-server/lib/cli.js -p "$cosmos_port" --no-ssl \
    >"$work/cosmos.log" 2>&1 &
  cosmos=$!
  pids=("$azurite" "$cosmos")
  wait_for "$work/azurite.log" "listens on"
  wait_for "$work/cosmos.log" "Ready to accept"
  storage="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;QueueEndpoint=http://127.0.0.1:$queue_port/devstoreaccount1;"
  seq 1 "$messages" | awk '{printf "{\"event_id\":\"e%d\",\"stream_id\":\"s%d\",\"type\":\"cheer\",\"bits\":1}\n", $1, $1 % 20}' \
    | node $tools/azure_queue.js send "$storage" alerts >/dev/null

  azurite_cpu=$(cpu "$azurite")
  cosmos_cpu=$(cpu "$cosmos")
  start=$(now)
  start_sluice --set "azure.storage=$storage"
  # One poller, one light request per tenth of a second (it must not be what sluice spends its
  # CPU on): until every event's instance has completed (drained and processed), then until the
  # Cosmos outbox is empty (mirrored); prints the two times.
  read -r drained mirrored < <(python3 - "$url" "$messages" <<'POLL'
import sys, time, urllib.request
url, total = sys.argv[1], int(sys.argv[2])
def metric(name):
    try:
        with urllib.request.urlopen(url + "/metrics") as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[-1])
    except Exception:
        pass
    return None
while (metric('sluice_instances_finished_total{status="Completed"}') or 0) < total:
    time.sleep(0.1)
drained = time.time()
while metric('sluice_outbox_depth{outbox="azure-cosmos"}') != 0:
    time.sleep(0.1)
print(drained, time.time())
POLL
)
  awk -v n="$messages" -v s="$start" -v d="$drained" -v m="$mirrored" -v run="$run" \
      -v cs="$(cpu "$sluice")" -v ca="$(cpu "$azurite")" -v ca0="$azurite_cpu" \
      -v cc="$(cpu "$cosmos")" -v cc0="$cosmos_cpu" \
      'BEGIN {printf "| %d | %.1f | %.0f | %.1f | %.0f | %.1f | %.1f | %.1f |\n", run, d - s, n / (d - s), m - s, n / (m - s), cs, ca - ca0, cc - cc0}'
  # Where sluice's CPU went, by thread, for the notes under the table.
  curl -s "$url/metrics" | awk -F'[{}"]' '/^sluice_thread_cpu_seconds_total/ {split($0, v, " "); printf "%s %.2f\n", $3, v[2]}' \
    | sort -k2 -rn | head -6 | paste -sd' ' | sed "s/^/run $run, sluice CPU s by thread: /" >>"$threads"
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
done
cat "$threads"

# Azurite cannot deliver Azure's 2,000 messages/s; the Cosmos side alone can be driven that fast:
# events posted over HTTP at a fixed 2,000/s (sluice bench), and the time until the Cosmos outbox
# is empty, with the CPU of sluice's Cosmos writer and of the emulator.
rm -rf "$work"/*
cosmos_port=$(free_port)
node $tools/node_modules/@vercel/cosmosdb-server/lib/cli.js -p "$cosmos_port" --no-ssl \
  >"$work/cosmos.log" 2>&1 &
cosmos=$!
pids=("$cosmos")
wait_for "$work/cosmos.log" "Ready to accept"
start_sluice
events=$((messages * 4))
cosmos_cpu=$(cpu "$cosmos")
start=$(now)
build/release/sluice bench --url "$url" --events "$events" --batch 50 --rate 2000 --streams 20 \
  | grep -E '^(accepted|completed)'
until [ "$(curl -s "$url/metrics" | awk '/^sluice_outbox_depth\{outbox="azure-cosmos"\}/ {print $2}')" = 0 ]; do
  sleep 0.1
done
writer=$(curl -s "$url/metrics" | awk -F'[{}"]' '/^sluice_thread_cpu_seconds_total\{thread="azure-cosmos"/ {split($0, v, " "); print v[2]}')
awk -v n="$events" -v s="$start" -v e="$(now)" -v w="$writer" -v cc="$(cpu "$cosmos")" -v cc0="$cosmos_cpu" \
  'BEGIN {printf "Cosmos at 2,000 events/s: %d events in Cosmos after %.1f s (%.0f events/s); CPU s: sluice azure-cosmos %.2f (%.0f us per event), Cosmos emulator %.2f\n", n, e - s, n / (e - s), w, w * 1e6 / n, cc - cc0}'
