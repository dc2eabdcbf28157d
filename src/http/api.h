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

  boost::asio::awaitable<Response> handle(Request& request);

 private:
  boost::asio::awaitable<Response> route(Request& request, std::string_view path);
  boost::asio::awaitable<Response> post_events(Request& request);
  boost::asio::awaitable<Response> get_queue();
  Response get_metrics() const;
  boost::asio::awaitable<Response> get_stream(Request& request, std::string_view rest);
  boost::asio::awaitable<Response> dead_letter(Request& request, std::string_view rest);
  // One change at a time per dead letter (replay or delete), so none is replayed twice.
  bool claim_dead_letter(const std::string& id);
  void release_dead_letter(const std::string& id);
  // Where absolute URLs in answers point: http://HOST:PORT, and the caller's key when it came as
  // `code`.
  UriBase uri_base(const Request& request) const;

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
  std::mutex claims_mutex_;
  std::set<std::string> claimed_dead_letters_;  // guarded by claims_mutex_
};

}  // namespace sluice::http
