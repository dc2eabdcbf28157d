#pragma once

// ManagementApi: the Durable Functions-compatible instance management routes under
// /runtime/webhooks/durabletask/ (DESIGN §6): start (and start and wait), status, query,
// terminate, suspend, resume, raise event, restart, purge one, purge by filter.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "http/completion_waiters.h"
#include "http/forwarder.h"
#include "http/json_response.h"
#include "http/route_table.h"

namespace sluice::http {

inline constexpr std::string_view kManagementPrefix = "/runtime/webhooks/durabletask/";

// Where the URIs in an answer point. A caller that presented its key as the query parameter `code`
// gets it back in every URI, so that each works as it is, as Durable Functions' URIs do; a key
// presented in a header is never echoed.
struct UriBase {
  std::string origin;     // http://host:port
  std::string key_query;  // "code=KEY", percent-encoded; empty when there is nothing to carry

  // The URI of instance `id` with `suffix` ("/terminate?reason={text}") and the key's query.
  std::string instance_uri(std::string_view id, std::string_view suffix = {}) const;
  // The same, appended to `out`.
  void append_instance_uri(std::string& out, std::string_view id, std::string_view suffix) const;
};

// The Durable Functions check-status payload for instance `id`: its id and the URIs to query,
// raise events to, terminate, suspend, resume, restart and purge it, and `duplicate` when given.
boost::json::object check_status_object(const UriBase& base, std::string_view id,
                                        std::optional<bool> duplicate = std::nullopt);

// The same payload as JSON text, formatted directly: every accepted event is answered with it,
// and it is several times cheaper than serializing the object (response_bench.cc).
std::string check_status_body(const UriBase& base, std::string_view id,
                              std::optional<bool> duplicate = std::nullopt);

// The 202 answer to a started instance: the check-status payload, and its status URI as Location.
Response check_status_response(const UriBase& base, std::string_view id,
                               std::optional<bool> duplicate = std::nullopt);

// An instance's status as GET instances/{id} answers it.
boost::json::object instance_status_body(const engine::InstanceRecord& record, bool show_input);

// How the URIs in answers are made.
struct UriOptions {
  std::string public_host;   // host:port, when a request has no usable Host
  bool keys_in_use = false;  // a key presented as `code` is echoed only then
};

class ManagementApi {
 public:
  // Every reference must outlive the object. `blocking` runs storage reads; `completions` is told
  // of every instance that finishes (start with ?timeout= waits on it).
  ManagementApi(engine::Engine& engine, const Registry& registry,
                boost::asio::thread_pool& blocking, CompletionWaiters& completions,
                const Forwarder& forwarder, UriOptions options);

  // The routes under kManagementPrefix; they call into this object.
  std::vector<Route> routes();

  // Where the URIs in the answer to `request` point: its Host when that is a plain host name or
  // address (else the configured one), with the key it presented as `code`.
  UriBase uri_base(const Request& request) const;

 private:
  boost::asio::awaitable<Response> start(Request& request, std::string name,
                                         std::string instance_id);
  boost::asio::awaitable<Response> status(Request& request, std::string id);
  boost::asio::awaitable<Response> restart(Request& request, std::string id);
  boost::asio::awaitable<Response> query(Request& request, bool purge);
  boost::asio::awaitable<Response> purge(Request& request, std::string id);
  boost::asio::awaitable<Response> send(Request& request, std::string id, std::string action,
                                        std::string event_name);

  engine::Engine& engine_;
  const Registry& registry_;
  boost::asio::thread_pool& blocking_;
  CompletionWaiters& completions_;
  const Forwarder& forwarder_;
  const UriOptions options_;
};

}  // namespace sluice::http
