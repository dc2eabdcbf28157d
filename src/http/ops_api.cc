#include "http/ops_api.h"

#include <boost/json.hpp>

#include "http/offload.h"

namespace sluice::http {

namespace json = boost::json;
using beast_http::status;

namespace {

// A response ready at once, for routes that read nothing.
boost::asio::awaitable<Response> ready(Response response) { co_return response; }

}  // namespace

std::vector<Route> OpsApi::routes() {
  using beast_http::verb;
  return {
      {verb::get, "/api/queue", Access::kRead,
       [this](Request&, PathParameters) { return queue(); }},
      {verb::get, "/metrics", Access::kRead,
       [this](Request&, PathParameters) { return metrics(); }},
      {verb::get, "/healthz", Access::kOpen, [this](Request&, PathParameters) { return health(); }},
  };
}

boost::asio::awaitable<Response> OpsApi::health() {
  return ready(json_response(status::ok, json::object{{"status", "ok"}}));
}

boost::asio::awaitable<Response> OpsApi::metrics() {
  const Readings readings{intake_.depth(), static_cast<std::int64_t>(engine_.active_instances()),
                          engine_.commit_failures()};
  Response response(status::ok, 11);
  response.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.body() = metrics_.render(readings);
  response.prepare_payload();
  return ready(std::move(response));
}

boost::asio::awaitable<Response> OpsApi::queue() {
  struct Reading {
    Status status;
    queue::QueueStats intake;
    std::int64_t dead_letters = 0;
  };
  Reading reading = co_await run_blocking(blocking_, [this] {
    Reading r;
    auto intake = intake_.stats();
    auto dead = dead_letters_.count();
    if (!intake.ok()) {
      r.status = intake.status();
    } else if (!dead.ok()) {
      r.status = dead.status();
    } else {
      r.intake = *intake;
      r.dead_letters = *dead;
    }
    return r;
  });
  if (!reading.status.ok()) co_return status_response(reading.status);

  json::value oldest_age_ms = nullptr;
  if (reading.intake.oldest_enqueued) {
    oldest_age_ms =
        std::max<std::int64_t>(0, (clock_.now() - *reading.intake.oldest_enqueued) / 1000);
  }
  const std::size_t running = engine_.active_instances();
  co_return json_response(
      status::ok, json::object{{"name", intake_.name()},
                               {"depth", reading.intake.depth},
                               {"oldest_age_ms", oldest_age_ms},
                               {"in_flight", reading.intake.in_flight},
                               {"running", running},
                               {"deadletter", json::object{{"name", dead_letters_.name()},
                                                           {"count", reading.dead_letters}}}});
}

}  // namespace sluice::http
