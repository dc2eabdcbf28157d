#pragma once

// Api: every HTTP route of sluice (DESIGN §6) in one RouteTable, gathered from the resources that
// serve them: events (EventsApi), streams (StreamsApi), dead letters (DeadLettersApi), operations
// (OpsApi), instance management (ManagementApi), and the routes connectors bring (ApiOptions).
// Each resource parses its requests and makes its answers; what a route does lives in the
// modules it calls.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "http/auth.h"
#include "http/completion_waiters.h"
#include "http/dead_letters_api.h"
#include "http/events_api.h"
#include "http/forwarder.h"
#include "http/management_api.h"
#include "http/metrics.h"
#include "http/ops_api.h"
#include "http/route_table.h"
#include "http/streams_api.h"
#include "pipeline/stream_store.h"
#include "queue/dead_letter_store.h"
#include "queue/intake_queue.h"

namespace sluice::http {

struct ApiOptions {
  std::size_t max_batch_events = 10000;
  std::string public_host;  // host:port for absolute URLs when a request has no usable Host
  std::vector<ApiKeyConfig> api_keys;   // none: every route is open
  ClusterSource cluster;                // GET /api/cluster
  Peers peers;                          // where nodes share storage: how to find the others
  ConnectorSource connectors;           // what the connectors add to /api/queue and /metrics
  std::vector<Route> connector_routes;  // routes the connectors serve (Twitch's EventSub)
};

class Api {
 public:
  // Every reference must outlive the Api. `completions` must be told of every instance that
  // finishes (POST /api/events?wait= and starts with ?timeout= wait on it).
  Api(queue::IntakeQueue& intake, queue::DeadLetterStore& dead_letters, IdGenerator& ids,
      const Clock& clock, ApiOptions options, engine::Engine& engine, const Registry& registry,
      pipeline::StreamStore& streams, CompletionWaiters& completions, Metrics& metrics);
  ~Api();

  // Answers one request through the route table.
  boost::asio::awaitable<Response> handle(Request& request) { return routes_.dispatch(request); }

  // Every route this API serves, as declared.
  const RouteTable& routes() const { return routes_; }

 private:
  std::vector<Route> declare_routes();

  const ApiOptions options_;
  const Authenticator auth_;
  boost::asio::thread_pool blocking_;  // storage reads and waits, off the HTTP threads
  const Forwarder forwarder_;
  ManagementApi management_;
  EventsApi events_;
  StreamsApi streams_;
  DeadLettersApi dead_letters_;
  OpsApi ops_;
  const RouteTable routes_;
};

}  // namespace sluice::http
