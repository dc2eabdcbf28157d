-- wrk script: one event per POST /api/events, each with a new event_id so every request is a
-- real durable append (a repeated id would be answered as a duplicate without a write).
local counter = 0
local prefix = ""
local types = {
  '"type":"follower"',
  '"type":"donation","amount":"4.99","currency":"USD"',
  '"type":"cheer","bits":100',
  '"type":"subscription","tier":"1000"',
}

function setup(thread)
  thread:set("prefix", string.format("%d-%d-", os.time(), math.random(1, 1e9)))
end

function init(args)
  prefix = prefix or "x"
end

function request()
  counter = counter + 1
  local body = string.format('{"event_id":"%s%d","stream_id":"s%d",%s}',
                             prefix, counter, counter % 100, types[counter % 4 + 1])
  return wrk.format("POST", "/api/events", {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.stderr:write(string.format("RATE %d ERRORS %d P99_MS %.2f\n",
                                summary.requests / (summary.duration / 1e6), errors,
                                latency:percentile(99) / 1000))
end
