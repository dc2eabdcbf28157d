#pragma once

// run_load: posts events to a sluice server from one thread, over keep-alive connections and
// without blocking, in one of two ways:
// - closed loop (rate 0): each connection sends its next request as soon as the last one is
//   answered;
// - open loop at a fixed rate: each request is due at its own time whatever the answers do,
//   goes out on the first free connection (more are opened, up to the limit, when none is free),
//   and its latency counts from when it was due — so a slow answer cannot hide the requests that
//   should have gone out meanwhile (no coordinated omission).
// A request the server refuses with 503 or 429, or that loses its connection, is sent again with
// the same events: ingest is idempotent by event id.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::cli {

struct LoadOptions {
  std::string host;
  std::string port;
  std::string api_key;  // empty: none sent
  std::int64_t events = 0;
  std::size_t batch = 1;      // events per request; NDJSON when more than one
  unsigned connections = 1;   // closed loop: exactly this many; fixed rate: at most this many
  double rate = 0;            // events/s; 0: closed loop
  unsigned wait_seconds = 0;  // sent as ?wait=: each answer then comes once its events finished
  std::string target = "/api/events";
  // When set, the header lines (each ending in CRLF) a request with this body adds: a signature.
  std::function<std::string(std::string_view body)> signed_headers;
};

struct LoadResult {
  std::int64_t events_sent = 0;  // answered with 2xx
  std::int64_t requests = 0;
  std::int64_t resent = 0;  // requests sent again after a 503, 429 or a lost connection
  unsigned connections_opened = 0;
  std::chrono::steady_clock::time_point started, last_answer;
  // Per event, in microseconds: from when its request was due to its answer.
  std::vector<std::int64_t> latencies;
  std::string failure;  // empty when every event was answered with 2xx
};

// `next_event` gives one event's JSON text; it is called on the calling thread only.
LoadResult run_load(const LoadOptions& options, const std::function<std::string()>& next_event);

}  // namespace sluice::cli
