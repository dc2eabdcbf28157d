#!/usr/bin/env bash
# sluice on PostgreSQL, one node and three, with RocksDB in the same run for the ratio. A private
# PostgreSQL 15 cluster (initdb defaults: fsync and synchronous_commit on) runs on this machine
# beside the nodes and the load generator; every run gets a fresh database (or data directory).
#
#   bench/cluster.sh [RUNS]     (RUNS default 3; the scenarios take turns within each round)
#
# One node runs at default settings; three nodes share 8 partitions. Each line also gives the CPU
# time PostgreSQL's backends spent per event. Scenarios:
#   rocksdb      one node on RocksDB: 40,000 events in NDJSON batches of 100
#   pg           one node on PostgreSQL: 30,000 events in batches of 100
#   pg-single    one node: 10,000 events, one per request, 16 connections
#   pg-2000      one node: 20,000 events, one per request at 2,000/s, each request waiting for
#                its event: post → Completed from each request's due time
#   pg3          three nodes, 8 partitions: as pg, posted to the first node, counted on all
#   pg3-single   three nodes: as pg-single
#   takeover     three nodes, leases of 2 s: SIGKILL the node that holds partition 0, post 64
#                events to another at once, and time from the kill until none is Pending or
#                Running any more (each moved partition's events complete after its takeover)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sluice >/dev/null
sluice=$PWD/build/release/sluice
pg_bin=/usr/lib/postgresql/15/bin

work=$(mktemp -d)
nodes=()
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for pid in "${nodes[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  as_postgres "$pg_bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[[ $(id -u) != 0 ]] || chown postgres "$work"
port=$((50000 + RANDOM % 10000))
as_postgres "$pg_bin/initdb" -D "$work/pg" -U sluice --auth=trust >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $port -k $work -c max_connections=300" start >/dev/null

fresh_storage() {  # a new database's URL (called in a subshell: the name cannot be a counter)
  local database
  database=b$(date +%s%N)
  as_postgres "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U sluice "$database" >&2
  echo "postgresql://sluice@127.0.0.1:$port/$database"
}

urls=()
start_nodes() {  # COUNT STORAGE SETTINGS...: starts nodes; their PIDs in nodes, URLs in urls
  local count=$1 storage=$2; shift 2
  nodes=()
  urls=()
  for ((n = 0; n < count; n++)); do
    "$sluice" serve --listen 127.0.0.1:0 --set "storage=$storage" --set engine.partitions=8 \
      "$@" >"$work/node$n.log" 2>&1 &
    nodes+=($!)
  done
  for ((n = 0; n < count; n++)); do
    until grep -q 'listening on' "$work/node$n.log"; do
      kill -0 "${nodes[$n]}" 2>/dev/null || { cat "$work/node$n.log" >&2; exit 1; }
      sleep 0.1
    done
    urls+=("http://$(grep -o 'listening on [0-9.:]*' "$work/node$n.log" | cut -d' ' -f3)")
  done
  # Until the partitions are shared: no node holds more than its share.
  local share=$(((8 + count - 1) / count))
  until curl -sf "${urls[0]}/api/cluster" | python3 -c "
import json, sys
view = json.load(sys.stdin)
held = [len(n['partitions']) for n in view['nodes'] if n['live']]
sys.exit(0 if sum(held) == 8 and max(held) <= $share and len(held) == $count else 1)"; do
    sleep 0.2
  done
}

stop_nodes() {
  for pid in "${nodes[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${nodes[@]}"; do wait "$pid" 2>/dev/null || true; done
  nodes=()
}

field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# CPU seconds PostgreSQL's backends have used so far: those that exited are in the postmaster's
# children's times (the nodes close their connections when they stop); its background processes
# (WAL writer, checkpointer) are not counted.
pg_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15 + $16 + $17) / hz}' \
    "/proc/$(head -1 "$work/pg/postmaster.pid")/stat"
}
report() {  # NAME JSON PG-CPU-BEFORE: the run's figures, with PostgreSQL's CPU per event
  local events pg
  events=$(field "d['events']" <<<"$2")
  pg=$(python3 -c "print(round(($(pg_cpu) - $3) * 1e6 / $events, 1))")
  echo "$1: $(field "$summary" <<<"$2") PostgreSQL µs CPU/event $pg"
  echo "$1 json: $2"
}
summary="'completed/s', round(d['completed_per_second']), 'µs CPU/event', round(d['cpu_microseconds_per_event'],1), 'server p99 ms', d['server_latency_ms']['p99'], 'post → Completed p99 ms', d.get('latency_ms', {}).get('p99'), 'nodes', d.get('nodes', 1)"

one_node() {  # NAME rocksdb|postgresql BENCH-ARGS...
  local name=$1 engine=$2; shift 2
  local out storage=() before
  [[ $engine == rocksdb ]] || storage=(--set "storage=$(fresh_storage)")
  before=$(pg_cpu)
  out=$("$sluice" bench --json "${storage[@]}" "$@" | tail -1)
  report "$name" "$out" "$before"
}

three_nodes() {  # NAME BENCH-ARGS...
  local name=$1; shift
  local out storage before
  storage=$(fresh_storage)
  start_nodes 3 "$storage"
  before=$(pg_cpu)
  out=$("$sluice" bench --json --url "${urls[0]}" "$@" | tail -1)
  stop_nodes
  sleep 0.5  # until their sessions have ended
  report "$name" "$out" "$before"
}

takeover() {
  local victim=-1 address owner kill_at done_at storage
  storage=$(fresh_storage)
  start_nodes 3 "$storage" --set storage.lease_ms=2000
  owner=$(curl -sf "${urls[0]}/api/cluster" | field "d['partitions'][0]['owner']")
  for n in 0 1 2; do
    address=${urls[$n]#http://}
    [[ $owner == "$address/"* ]] && victim=$n
  done
  [[ $victim -ge 0 ]] || { echo "no node holds partition 0 ($owner)" >&2; exit 1; }
  local other=$(((victim + 1) % 3))
  local body=""
  for i in $(seq 64); do
    body+="{\"event_id\":\"takeover-$RANDOM$RANDOM-$i\",\"stream_id\":\"s$i\",\"type\":\"follower\",\"user_name\":\"v\"}"$'\n'
  done
  kill_at=$(date +%s.%N)
  kill -9 "${nodes[$victim]}"
  wait "${nodes[$victim]}" 2>/dev/null || true
  curl -sf -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary "$body" \
    "${urls[$other]}/api/events"
  local pending="/runtime/webhooks/durabletask/instances?runtimeStatus=Pending,Running&top=1"
  until [[ $(curl -sf "${urls[$other]}$pending") == "[]" ]] &&
    [[ $(curl -sf "${urls[$other]}/api/queue" | field "d['depth']") == 0 ]]; do
    sleep 0.01
  done
  done_at=$(date +%s.%N)
  stop_nodes
  echo "takeover: $(python3 -c "print(round($done_at - $kill_at, 2))") s from SIGKILL to all 64 Completed"
}

for ((round = 1; round <= runs; round++)); do
  echo "round $round"
  one_node rocksdb rocksdb --events 40000 --batch 100
  one_node pg postgresql --events 30000 --batch 100
  three_nodes pg3 --events 30000 --batch 100 --drain-timeout 300
  one_node pg-single postgresql --events 10000 --connections 16
  three_nodes pg3-single --events 10000 --connections 16 --drain-timeout 300
  one_node pg-2000 postgresql --events 20000 --rate 2000
  takeover
done
