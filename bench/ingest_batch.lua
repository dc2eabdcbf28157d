-- wrk script: NDJSON batches of BATCH events per POST /api/events, every event with a new
-- event_id.
local batch = tonumber(os.getenv("BATCH") or "1000")
local counter = 0
local prefix = ""

function setup(thread)
  thread:set("prefix", string.format("%d-%d-", os.time(), math.random(1, 1e9)))
end

function request()
  local lines = {}
  for i = 1, batch do
    counter = counter + 1
    lines[i] = string.format('{"event_id":"%s%d","stream_id":"s%d","type":"cheer","bits":%d}',
                             prefix, counter, counter % 100, counter % 500 + 1)
  end
  return wrk.format("POST", "/api/events", {["Content-Type"] = "application/x-ndjson"},
                    table.concat(lines, "\n"))
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.stderr:write(string.format("RATE %d ERRORS %d P99_MS %.2f\n",
                                summary.requests * batch / (summary.duration / 1e6), errors,
                                latency:percentile(99) / 1000))
end
