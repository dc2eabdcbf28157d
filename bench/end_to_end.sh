#!/usr/bin/env bash
# The whole system end to end with `sluice bench`, each run on a fresh server and data directory
# (fsync on, load generator on the same machine). Prints every run and the medians.
#
#   bench/end_to_end.sh [RUNS] [BASELINE]     (RUNS default 3)
#
# With BASELINE (another build's sluice binary), every run of a scenario runs the baseline and
# then this build, one after the other, so both meet the same hour of a shared machine; the
# medians of both and their ratio (this build / baseline) are printed.
#
# Scenarios:
#   batched   500,000 events in NDJSON batches of 200, closed loop over 4 connections
#   single    300,000 events, one per request, closed loop over 64 connections
#   webhook   as batched, every alert also POSTed (signed) to bench/webhook_sink
#   latency   200,000 events at 10,000 events/s, batches of 10, each request waiting (?wait=)
#             for its events to finish: post → Completed from each request's due time
#   burst     1,000,000 events in batches of 1,000 as fast as they are accepted: peak memory
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
baseline=${2:-}
[[ -z $baseline || -x $baseline ]] || { echo "baseline $baseline is not an executable" >&2; exit 2; }
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sluice webhook_sink >/dev/null

sink=""
trap '[[ -z $sink ]] || kill "$sink" 2>/dev/null || true' EXIT
build/release/bench/webhook_sink 0 >"${TMPDIR:-/tmp}/sluice-webhook-sink.log" &
sink=$!
until grep -q 'listening on' "${TMPDIR:-/tmp}/sluice-webhook-sink.log" 2>/dev/null; do sleep 0.1; done
sink_url="http://127.0.0.1:$(grep -o '127.0.0.1:[0-9]*' "${TMPDIR:-/tmp}/sluice-webhook-sink.log" | cut -d: -f2)/hook"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

medians() {  # LABEL NAME RESULT...: the medians of a scenario's runs
  local label=$1 name=$2; shift 2
  for key in completed_per_second accepted_per_second cpu_microseconds_per_event \
             disk_bytes_per_event peak_memory_bytes; do
    printf '%s%s median %s: %s\n' "$label" "$name" "$key" \
      "$(for r in "$@"; do field "round(d['$key'],1)" <<<"$r"; done | median)"
  done
  if [[ $name == latency ]]; then
    for p in p50 p90 p99 max; do
      printf '%s%s median %s (ms): %s\n' "$label" "$name" "$p" \
        "$(for r in "$@"; do field "d['latency_ms']['$p']" <<<"$r"; done | median)"
    done
  fi
}

ratio() {  # NAME KEY: median(this build) / median(baseline), from scenario()'s runs
  local name=$1 key=$2 base cur
  base=$(for r in "${baseline_results[@]}"; do field "d['$key']" <<<"$r"; done | median)
  cur=$(for r in "${results[@]}"; do field "d['$key']" <<<"$r"; done | median)
  printf '%s ratio %s (this build / baseline): %s\n' "$name" "$key" \
    "$(python3 -c "print(round($cur / $base, 3))")"
}

scenario() {  # NAME FIELDS BENCH-ARGS...: runs it RUNS times, prints each run and the medians
  local name=$1 fields=$2; shift 2
  local results=() baseline_results=()
  for ((i = 1; i <= runs; i++)); do
    local out
    if [[ -n $baseline ]]; then
      out=$("$baseline" bench --json "$@" | tail -1)
      baseline_results+=("$out")
      echo "baseline $name run $i: $(field "$fields" <<<"$out")"
    fi
    out=$(build/release/sluice bench --json "$@" | tail -1)
    results+=("$out")
    echo "$name run $i: $(field "$fields" <<<"$out")"
  done
  medians "" "$name" "${results[@]}"
  if [[ -n $baseline ]]; then
    medians "baseline " "$name" "${baseline_results[@]}"
    for key in completed_per_second cpu_microseconds_per_event peak_memory_bytes; do
      ratio "$name" "$key"
    done
  fi
}

summary="'completed/s', round(d['completed_per_second']), 'accepted/s', round(d['accepted_per_second']), 'µs CPU/event', round(d['cpu_microseconds_per_event'],1), 'disk B/event', round(d['disk_bytes_per_event']), 'peak MiB', round(d['peak_memory_bytes']/2**20)"
scenario batched "$summary" --events 500000 --batch 200
scenario single "$summary" --events 300000
scenario webhook "$summary" --events 300000 --batch 200 \
  --set "webhooks.sink.url=$sink_url" --set webhooks.sink.secret=bench
scenario latency "$summary, 'latency ms', d['latency_ms']" --events 200000 --rate 10000 --batch 10
scenario burst "$summary" --events 1000000 --batch 1000
