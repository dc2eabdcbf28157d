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
      {verb::get, "/api/cluster", Access::kRead,
       [this](Request&, PathParameters) { return cluster(); }},
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
                          engine_.commit_failures(), intake_.id_conflicts()};
  Response response(status::ok, 11);
  response.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.body() = metrics_.render(readings);
  if (connectors_) {
    auto report = co_await run_blocking(blocking_, [this] { return connectors_(); });
    if (!report.ok()) co_return status_response(report.status());
    response.body() += report->metrics;
  }
  response.prepare_payload();
  co_return response;
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
  json::object body{{"name", intake_.name()},
                    {"depth", reading.intake.depth},
                    {"oldest_age_ms", oldest_age_ms},
                    {"in_flight", reading.intake.in_flight},
                    {"lanes", reading.intake.lanes},
                    {"running", running},
                    {"deadletter", json::object{{"name", dead_letters_.name()},
                                                {"count", reading.dead_letters}}}};
  if (connectors_) {
    auto report = co_await run_blocking(blocking_, [this] { return connectors_(); });
    if (!report.ok()) co_return status_response(report.status());
    for (auto& [key, value] : report->queue) body[key] = std::move(value);
  }
  co_return json_response(status::ok, std::move(body));
}

boost::asio::awaitable<Response> OpsApi::cluster() {
  if (!cluster_) co_return status_response(unavailable("this server keeps no cluster view"));
  auto view = co_await run_blocking(blocking_, [this] { return cluster_(); });
  if (!view.ok()) co_return status_response(view.status());
  json::array nodes;
  for (const auto& node : view->nodes) {
    json::array held;
    for (const auto& owner : view->owners) {
      if (owner.owner == node.name) held.push_back(owner.partition);
    }
    json::object entry{{"name", node.name},
                       {"address", node.address},
                       {"live", node.live},
                       {"partitions", std::move(held)}};
    if (node.started_at != 0) entry["started_at"] = format_rfc3339(node.started_at);
    if (node.expires_at != 0) entry["lease_expires_at"] = format_rfc3339(node.expires_at);
    nodes.push_back(std::move(entry));
  }
  json::array partitions;
  for (const auto& owner : view->owners) {
    partitions.push_back(json::object{
        {"partition", owner.partition},
        {"owner", owner.owner.empty() ? json::value(nullptr) : json::value(owner.owner)},
        {"epoch", owner.epoch}});
  }
  co_return json_response(status::ok, json::object{{"partition_count", view->partitions},
                                                   {"nodes", std::move(nodes)},
                                                   {"partitions", std::move(partitions)}});
}

}  // namespace sluice::http
