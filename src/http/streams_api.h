#pragma once

// StreamsApi: a stream's running totals and its event history (GET /api/streams/{id}/stats and
// /events, scope read), read from the pipeline's StreamStore off the HTTP threads.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>
#include <vector>

#include "http/route_table.h"
#include "pipeline/stream_store.h"

namespace sluice::http {

class StreamsApi {
 public:
  // Every reference must outlive the object; `blocking` runs the storage reads.
  StreamsApi(pipeline::StreamStore& streams, boost::asio::thread_pool& blocking)
      : streams_(streams), blocking_(blocking) {}

  std::vector<Route> routes();

 private:
  boost::asio::awaitable<Response> stats(std::string stream_id);
  boost::asio::awaitable<Response> events(Request& request, std::string stream_id);

  pipeline::StreamStore& streams_;
  boost::asio::thread_pool& blocking_;
};

}  // namespace sluice::http
