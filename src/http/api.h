#pragma once

// Api: sluice's HTTP routes (DESIGN §6), mapped onto the modules below. Request parsing and
// answers live here; what a route does lives in the modules it calls.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "http/json_response.h"
#include "queue/dead_letter_store.h"
#include "queue/intake_queue.h"

namespace sluice::http {

struct ApiOptions {
  std::size_t max_batch_events = 10000;
  std::string public_host;  // host:port for absolute URLs when a request has no usable Host
};

class Api {
 public:
  // Every reference must outlive the Api.
  Api(queue::IntakeQueue& intake, queue::DeadLetterStore& dead_letters, IdGenerator& ids,
      const Clock& clock, ApiOptions options);
  ~Api();

  boost::asio::awaitable<Response> handle(Request& request);

 private:
  boost::asio::awaitable<Response> post_events(Request& request);
  boost::asio::awaitable<Response> get_queue();

  queue::IntakeQueue& intake_;
  queue::DeadLetterStore& dead_letters_;
  IdGenerator& ids_;
  const Clock& clock_;
  ApiOptions options_;
  boost::asio::thread_pool blocking_;  // storage reads, off the HTTP threads
};

}  // namespace sluice::http
