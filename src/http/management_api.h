#pragma once

// ManagementApi: the Durable Functions-compatible instance management routes under
// /runtime/webhooks/durabletask/ (DESIGN §6): start, status, query, terminate, suspend, resume,
// raise event, purge one, purge by filter.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "engine/engine.h"
#include "http/json_response.h"

namespace sluice::http {

inline constexpr std::string_view kManagementPrefix = "/runtime/webhooks/durabletask/";

// The Durable Functions check-status payload for instance `id`: its id and the URIs to query,
// raise events to, terminate, suspend, resume and purge it, and `duplicate` when given.
// `base_url` is http://host:port.
boost::json::object check_status_object(std::string_view base_url, std::string_view id,
                                        std::optional<bool> duplicate = std::nullopt);

// The same payload as JSON text, formatted directly: every accepted event is answered with it,
// and building the object to serialize it cost about three times as much (response_bench.cc).
std::string check_status_body(std::string_view base_url, std::string_view id,
                              std::optional<bool> duplicate = std::nullopt);

// The 202 answer to a started instance: the check-status payload, and its status URI as Location.
Response check_status_response(std::string_view base_url, std::string_view id,
                               std::optional<bool> duplicate = std::nullopt);

// An instance's status as GET instances/{id} answers it.
boost::json::object instance_status_body(const engine::InstanceRecord& record, bool show_input);

class ManagementApi {
 public:
  // Every reference must outlive the object. `blocking` runs storage reads.
  ManagementApi(engine::Engine& engine, const Registry& registry,
                boost::asio::thread_pool& blocking);

  // `path` is the request's path after kManagementPrefix; `base_url` is http://host:port.
  boost::asio::awaitable<Response> handle(Request& request, std::string_view path,
                                          const std::string& base_url);

 private:
  boost::asio::awaitable<Response> start(Request& request, std::string_view name,
                                         std::string instance_id, const std::string& base_url);
  boost::asio::awaitable<Response> status(Request& request, const std::string& id,
                                          const std::string& base_url);
  boost::asio::awaitable<Response> query(Request& request, bool purge);
  boost::asio::awaitable<Response> purge(const std::string& id);
  boost::asio::awaitable<Response> send(Request& request, const std::string& id,
                                        std::string_view action, std::string_view event_name);

  engine::Engine& engine_;
  const Registry& registry_;
  boost::asio::thread_pool& blocking_;
};

}  // namespace sluice::http
