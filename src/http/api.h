#pragma once

// Api: sluice's HTTP routes (DESIGN §6), mapped onto the modules below. Request parsing and
// answers live here; what a route does lives in the modules it calls.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <mutex>
#include <set>
#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "http/auth.h"
#include "http/completion_waiters.h"
#include "http/json_response.h"
#include "http/management_api.h"
#include "http/metrics.h"
#include "http/route_table.h"
#include "pipeline/stream_store.h"
#include "queue/dead_letter_store.h"
#include "queue/intake_queue.h"

namespace sluice::http {

struct ApiOptions {
  std::size_t max_batch_events = 10000;
  std::string public_host;  // host:port for absolute URLs when a request has no usable Host
  std::vector<ApiKeyConfig> api_keys;  // none: every route is open
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
  boost::asio::awaitable<Response> post_events(Request& request);
  boost::asio::awaitable<Response> get_queue();
  boost::asio::awaitable<Response> get_metrics();
  boost::asio::awaitable<Response> get_health();
  boost::asio::awaitable<Response> stream_stats(std::string stream_id);
  boost::asio::awaitable<Response> stream_events(Request& request, std::string stream_id);
  boost::asio::awaitable<Response> list_dead_letters(Request& request);
  boost::asio::awaitable<Response> get_dead_letter(std::string id);
  // Replays (`replay`) or deletes a dead letter.
  boost::asio::awaitable<Response> change_dead_letter(Request& request, std::string id,
                                                      bool replay);
  // One change at a time per dead letter (replay or delete), so none is replayed twice.
  bool claim_dead_letter(const std::string& id);
  void release_dead_letter(const std::string& id);

  queue::IntakeQueue& intake_;
  queue::DeadLetterStore& dead_letters_;
  IdGenerator& ids_;
  const Clock& clock_;
  ApiOptions options_;
  Authenticator auth_;
  boost::asio::thread_pool blocking_;  // storage reads, off the HTTP threads
  pipeline::StreamStore& streams_;
  engine::Engine& engine_;
  CompletionWaiters& completions_;
  Metrics& metrics_;
  ManagementApi management_;
  const RouteTable routes_;
  std::mutex claims_mutex_;
  std::set<std::string> claimed_dead_letters_;  // guarded by claims_mutex_
};

}  // namespace sluice::http
