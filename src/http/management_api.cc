#include "http/management_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <map>
#include <utility>
#include <variant>

#include "http/auth.h"
#include "http/offload.h"
#include "http/query.h"
#include "pipeline/event.h"

namespace sluice::http {

namespace json = boost::json;
using beast_http::status;
using engine::RuntimeStatus;

namespace {

constexpr unsigned kMaxStartWaitSeconds = 3600;  // a start with ?timeout= waits at most this long

// Stored strings are JSON by convention: embed them as JSON when they are, as text otherwise.
json::value embed(std::string_view text) {
  if (text.empty()) return nullptr;
  boost::system::error_code error;
  json::value parsed = json::parse(text, error);
  if (error) return json::string(text);
  return parsed;
}

// The check-status payload's URIs, each the instance's URI with a suffix.
constexpr std::pair<std::string_view, std::string_view> kCheckStatusUris[] = {
    {"statusQueryGetUri", ""},
    {"sendEventPostUri", "/raiseEvent/{eventName}"},
    {"terminatePostUri", "/terminate?reason={text}"},
    {"suspendPostUri", "/suspend?reason={text}"},
    {"resumePostUri", "/resume?reason={text}"},
    {"restartPostUri", "/restart"},
    {"purgeHistoryDeleteUri", ""}};

// Whether JSON needs `c` escaped inside a string.
bool needs_json_escape(char c) {
  return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
}

}  // namespace

void UriBase::append_instance_uri(std::string& out, std::string_view id,
                                  std::string_view suffix) const {
  out.append(origin).append(kManagementPrefix).append("instances/").append(id).append(suffix);
  if (key_query.empty()) return;
  out.push_back(suffix.find('?') == std::string_view::npos ? '?' : '&');
  out.append(key_query);
}

std::string UriBase::instance_uri(std::string_view id, std::string_view suffix) const {
  std::string uri;
  append_instance_uri(uri, id, suffix);
  return uri;
}

json::object check_status_object(const UriBase& base, std::string_view id,
                                 std::optional<bool> duplicate) {
  json::object body{{"id", id}};
  for (const auto& [name, suffix] : kCheckStatusUris) body[name] = base.instance_uri(id, suffix);
  if (duplicate) body["duplicate"] = *duplicate;
  return body;
}

std::string check_status_body(const UriBase& base, std::string_view id,
                              std::optional<bool> duplicate) {
  // Ids, hosts and the percent-encoded key are checked to a plain alphabet before they get here;
  // anything else is escaped as JSON requires.
  if (std::any_of(id.begin(), id.end(), needs_json_escape) ||
      std::any_of(base.origin.begin(), base.origin.end(), needs_json_escape)) {
    return json::serialize(check_status_object(base, id, duplicate));
  }
  std::string body;
  body.reserve(480 + 8 * (base.origin.size() + id.size() + base.key_query.size()));
  body.append("{\"id\":\"").append(id).push_back('"');
  for (const auto& [name, suffix] : kCheckStatusUris) {
    body.append(",\"").append(name).append("\":\"");
    base.append_instance_uri(body, id, suffix);
    body.push_back('"');
  }
  if (duplicate) body.append(*duplicate ? ",\"duplicate\":true" : ",\"duplicate\":false");
  body.push_back('}');
  return body;
}

Response check_status_response(const UriBase& base, std::string_view id,
                               std::optional<bool> duplicate) {
  Response response{beast_http::status::accepted, 11};
  response.set(beast_http::field::content_type, "application/json");
  response.set(beast_http::field::location, base.instance_uri(id));
  response.body() = check_status_body(base, id, duplicate);
  response.prepare_payload();
  return response;
}

json::object instance_status_body(const engine::InstanceRecord& record, bool show_input) {
  json::object body{{"name", record.name},
                    {"instanceId", record.instance_id},
                    {"runtimeStatus", engine::runtime_status_name(record.status)},
                    {"customStatus", embed(record.custom_status)},
                    {"output", embed(record.output)},
                    {"createdTime", format_rfc3339(record.created_at)},
                    {"lastUpdatedTime", format_rfc3339(record.updated_at)}};
  body["input"] = show_input ? embed(record.input) : json::value(nullptr);
  return body;
}

namespace {

json::array history_body(const std::vector<engine::HistoryEvent>& events) {
  json::array out;
  for (const auto& event : events) {
    if (event.type == engine::EventType::kOrchestratorStarted) continue;  // internal marker
    json::object item{{"EventType", engine::event_type_name(event.type)},
                      {"Timestamp", format_rfc3339(event.timestamp)}};
    if (event.task_id >= 0) item["TaskId"] = event.task_id;
    if (!event.name.empty()) item["Name"] = event.name;
    if (!event.data.empty()) item["Data"] = embed(event.data);
    if (event.type == engine::EventType::kTimerCreated ||
        event.type == engine::EventType::kTimerFired) {
      item["FireAt"] = format_rfc3339(event.fire_at);
    }
    out.push_back(std::move(item));
  }
  return out;
}

using http::bad_parameter;  // the (name, message) form, beside this one
Response bad_parameter(const ParameterError& error) {
  return bad_parameter(error.name, error.message);
}

// Nothing when `id` is a valid id; otherwise the 400 naming `field`.
std::optional<Response> refuse_invalid_id(std::string_view field, std::string_view id) {
  if (pipeline::is_valid_id(id)) return std::nullopt;
  return bad_parameter(field, "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'");
}

// A Host header fit to echo into URLs.
bool is_plain_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  });
}

// The request is built here, outside any coroutine: GCC 12 miscompiles a braced aggregate of
// strings initialised inside a coroutine frame (its strings end up pointing into the frame).
auto start_instance(engine::Engine& engine, std::string name, std::string id, std::string input,
                    bool overwrite) {
  engine::StartRequest request;
  request.name = std::move(name);
  request.instance_id = std::move(id);
  request.input = std::move(input);
  request.replace_finished = overwrite;
  return await_status([&engine, request = std::move(request)](engine::Reply reply) mutable {
    engine.start_instance(std::move(request), std::move(reply));
  });
}

// Like start_instance: the strings are captured outside any coroutine frame.
auto send_to_engine(engine::Engine& engine, std::string action, std::string id, std::string event,
                    std::string data, std::string reason) {
  return await_status([&engine, action = std::move(action), id = std::move(id),
                       event = std::move(event), data = std::move(data),
                       reason = std::move(reason)](engine::Reply reply) mutable {
    if (action == "terminate") {
      engine.terminate(std::move(id), std::move(reason), std::move(reply));
    } else if (action == "suspend") {
      engine.suspend(std::move(id), std::move(reason), std::move(reply));
    } else if (action == "resume") {
      engine.resume(std::move(id), std::move(reason), std::move(reply));
    } else {
      engine.raise_event(std::move(id), std::move(event), std::move(data), std::move(reply));
    }
  });
}

auto purge_one(engine::Engine& engine, std::string id) {
  return await_status([&engine, id = std::move(id)](engine::Reply reply) mutable {
    engine.purge(std::move(id), std::move(reply));
  });
}

// Runs the orchestrator's admission on `input` (see Registry::add_orchestrator): nothing when
// the input may start it, rewritten in place; otherwise the 400 refusing it.
std::optional<Response> admit_input(const Registry& registry, std::string_view name,
                                    std::string_view instance_id, std::string& input) {
  const InputAdmission* admission = registry.admission(name);
  if (admission == nullptr) return std::nullopt;
  auto admitted = (*admission)(instance_id, std::move(input));
  if (auto* refusal = std::get_if<InputRefusal>(&admitted)) {
    return error_response(status::bad_request, "invalid_input", refusal->message,
                          refusal->field.empty() ? "input" : refusal->field);
  }
  input = std::get<std::string>(std::move(admitted));
  return std::nullopt;
}

// The HTTP status of GET instances/{id}: 202 while the instance runs, 200 once it has finished,
// or 500 for a Failed one when the caller asked for that with returnInternalServerErrorOnFailure.
status instance_http_status(const engine::InstanceRecord& record, bool server_error_on_failure) {
  if (!engine::is_terminal(record.status)) return status::accepted;
  const bool failed = record.status == RuntimeStatus::kFailed;
  return failed && server_error_on_failure ? status::internal_server_error : status::ok;
}

// The answer to a start that waited and saw its instance finish: 200 with the output when it
// completed (as Durable Functions answers createAndWaitOnNewInstancePostUri), else its status.
Response waited_start_response(const engine::InstanceRecord& record, bool server_error_on_failure) {
  if (record.status != RuntimeStatus::kCompleted) {
    return json_response(instance_http_status(record, server_error_on_failure),
                         instance_status_body(record, false));
  }
  Response response{status::ok, 11};
  response.set(beast_http::field::content_type, "application/json");
  response.body() = record.output.empty() ? "null" : record.output;
  response.prepare_payload();
  return response;
}

// Storage work on the blocking pool; captures are made here, outside any coroutine frame.
auto query_page(boost::asio::thread_pool& pool, engine::Engine& engine,
                engine::InstanceQuery query) {
  return run_blocking(pool, [&engine, query = std::move(query)]() -> Result<engine::QueryPage> {
    return engine.query(query);
  });
}

auto purge_matching(boost::asio::thread_pool& pool, engine::Engine& engine,
                    engine::InstanceQuery query) {
  return run_blocking(pool, [&engine, query = std::move(query)]() -> Result<std::size_t> {
    return engine.purge_matching(query);
  });
}

}  // namespace

ManagementApi::ManagementApi(engine::Engine& engine, const Registry& registry,
                             boost::asio::thread_pool& blocking, CompletionWaiters& completions,
                             const Forwarder& forwarder, UriOptions options)
    : engine_(engine),
      registry_(registry),
      blocking_(blocking),
      completions_(completions),
      forwarder_(forwarder),
      options_(std::move(options)) {}

std::vector<Route> ManagementApi::routes() {
  using beast_http::verb;
  const std::string prefix(kManagementPrefix);
  std::vector<Route> routes{
      // Reading instances is `read`; everything that changes them is `admin`.
      {verb::post, prefix + "orchestrators/{name}", Access::kAdmin,
       [this](Request& request, PathParameters p) {
         return start(request, std::move(p[0]), std::string());
       }},
      {verb::post, prefix + "orchestrators/{name}/{instanceId}", Access::kAdmin,
       [this](Request& request, PathParameters p) {
         return start(request, std::move(p[0]), std::move(p[1]));
       }},
      {verb::get, prefix + "instances", Access::kRead,
       [this](Request& request, PathParameters) { return query(request, false); }},
      {verb::delete_, prefix + "instances", Access::kAdmin,
       [this](Request& request, PathParameters) { return query(request, true); }},
      {verb::get, prefix + "instances/{instanceId}", Access::kRead,
       [this](Request& request, PathParameters p) { return status(request, std::move(p[0])); }},
      {verb::delete_, prefix + "instances/{instanceId}", Access::kAdmin,
       [this](Request& request, PathParameters p) { return purge(request, std::move(p[0])); }},
      {verb::post, prefix + "instances/{instanceId}/restart", Access::kAdmin,
       [this](Request& request, PathParameters p) { return restart(request, std::move(p[0])); }},
      {verb::post, prefix + "instances/{instanceId}/raiseEvent/{eventName}", Access::kAdmin,
       [this](Request& request, PathParameters p) {
         return send(request, std::move(p[0]), "raiseEvent", std::move(p[1]));
       }},
  };
  for (const char* action : {"terminate", "suspend", "resume"}) {
    routes.push_back({verb::post, prefix + "instances/{instanceId}/" + action, Access::kAdmin,
                      [this, action](Request& request, PathParameters p) {
                        return send(request, std::move(p[0]), action, std::string());
                      }});
  }
  return routes;
}

UriBase ManagementApi::uri_base(const Request& request) const {
  const std::string_view host = request[beast_http::field::host];
  UriBase base{fmt::format("http://{}", is_plain_host(host) ? host : options_.public_host), ""};
  // Only a key that authenticated this request is echoed: with no keys in use, `code` is
  // nobody's key.
  if (options_.keys_in_use) {
    if (auto key = url_key(request)) {
      base.key_query = "code=" + boost::urls::encode(*key, boost::urls::unreserved_chars);
    }
  }
  return base;
}

boost::asio::awaitable<Response> ManagementApi::start(Request& request, std::string name,
                                                      std::string instance_id) {
  if (!pipeline::is_valid_id(name)) {
    co_return bad_parameter("name", "is not a valid orchestrator name");
  }
  if (!instance_id.empty()) {
    if (auto refusal = refuse_invalid_id("instanceId", instance_id)) co_return std::move(*refusal);
  }
  const UriBase base = uri_base(request);
  QueryParameters query;
  if (!parse_query(request.target(), query)) co_return bad_parameter("query", "is malformed");
  if (registry_.orchestrator(name) == nullptr) {
    co_return error_response(status::not_found, "orchestrator_not_found",
                             fmt::format("no orchestrator named \"{}\"", name), "name");
  }
  // createAndWaitOnNewInstancePostUri: wait up to `timeout`. The wait is woken by the instance's
  // end, so `pollingInterval` is checked and otherwise not needed.
  unsigned timeout_seconds = 0;
  unsigned polling_seconds = 0;
  if (auto refusal = parse_seconds(query, "timeout", kMaxStartWaitSeconds, timeout_seconds)) {
    co_return bad_parameter(*refusal);
  }
  if (auto refusal =
          parse_seconds(query, "pollingInterval", kMaxStartWaitSeconds, polling_seconds)) {
    co_return bad_parameter(*refusal);
  }
  std::string input = request.body().empty() ? "null" : request.body();
  boost::system::error_code error;
  json::parse(input, error);
  if (error)
    co_return error_response(status::bad_request, "malformed_json", "the input is not JSON",
                             "body");
  // Ids the server makes are UUIDs; callers may pick their own. One made here falls in a partition
  // that runs here, unless none does: then the node that runs it makes its own.
  if (instance_id.empty()) instance_id = engine_.new_instance_id();
  if (auto answer = co_await forwarder_.elsewhere(
          request, instance_id,
          Forwarder::kAnswerTimeout + std::chrono::seconds(timeout_seconds))) {
    co_return std::move(*answer);
  }
  if (auto refusal = admit_input(registry_, name, instance_id, input)) {
    co_return std::move(*refusal);
  }

  // Registered before the start, so that the instance cannot finish unseen.
  std::optional<CompletionWaiters::Wait> wait;
  if (timeout_seconds > 0) {
    std::vector<std::string> ids(1, instance_id);
    wait.emplace(completions_, std::move(ids), std::chrono::seconds(timeout_seconds),
                 co_await boost::asio::this_coro::executor);
  }
  Status started = co_await start_instance(engine_, name, instance_id, std::move(input),
                                           is_true(query, "overwrite", false));
  if (!started.ok()) co_return status_response(started);
  if (wait) {
    const std::vector<std::string> earlier;  // a new run: it cannot have finished before the wait
    engine::Engine& engine = engine_;
    std::vector<CompletionWaiters::Finished> finished = co_await wait->finished(
        earlier, blocking_, [&engine](const std::string& id) { return read_finished(engine, id); });
    if (finished.front()) {
      co_return waited_start_response(*finished.front(),
                                      is_true(query, "returnInternalServerErrorOnFailure", false));
    }
  }
  co_return check_status_response(base, instance_id);
}

boost::asio::awaitable<Response> ManagementApi::status(Request& request, std::string id) {
  if (auto refusal = refuse_invalid_id("instanceId", id)) co_return std::move(*refusal);
  const UriBase base = uri_base(request);
  QueryParameters query;
  if (!parse_query(request.target(), query)) co_return bad_parameter("query", "is malformed");
  const bool show_history = is_true(query, "showHistory", false);
  const bool show_input = is_true(query, "showInput", true);
  struct Reading {
    Status status;
    std::optional<engine::InstanceRecord> record;
    std::vector<engine::HistoryEvent> history;
  };
  Reading reading = co_await run_blocking(blocking_, [this, &id, show_history, show_input] {
    Reading r;
    auto record = engine_.instance(id, show_input);
    if (!record.ok()) {
      r.status = record.status();
      return r;
    }
    r.record = std::move(*record);
    if (r.record && show_history) {
      auto history = engine_.history(id);
      if (history.ok()) {
        r.history = std::move(*history);
      } else {
        r.status = history.status();
      }
    }
    return r;
  });
  if (!reading.status.ok()) co_return status_response(reading.status);
  if (!reading.record) {
    co_return error_response(status::not_found, "not_found", fmt::format("no instance {}", id));
  }
  json::object body = instance_status_body(*reading.record, show_input);
  if (show_history) body["historyEvents"] = history_body(reading.history);
  Response response = json_response(
      instance_http_status(*reading.record,
                           is_true(query, "returnInternalServerErrorOnFailure", false)),
      body);
  if (!engine::is_terminal(reading.record->status)) {
    response.set(beast_http::field::location, base.instance_uri(id));
  }
  co_return response;
}

boost::asio::awaitable<Response> ManagementApi::restart(Request& request, std::string id) {
  if (auto refusal = refuse_invalid_id("instanceId", id)) co_return std::move(*refusal);
  const UriBase base = uri_base(request);
  QueryParameters query;
  if (!parse_query(request.target(), query)) co_return bad_parameter("query", "is malformed");
  // As Durable Functions: a new instance id unless restartWithNewInstanceId=false, which runs the
  // instance again under its own id once it has finished.
  const bool new_id = is_true(query, "restartWithNewInstanceId", true);
  if (!new_id) {
    if (auto answer = co_await forwarder_.elsewhere(request, id)) co_return std::move(*answer);
  }
  auto record =
      co_await run_blocking(blocking_, [this, &id] { return engine_.instance(id, true); });
  if (!record.ok()) co_return status_response(record.status());
  if (!*record) {
    co_return error_response(status::not_found, "not_found", fmt::format("no instance {}", id));
  }
  std::string restarted = new_id ? engine_.new_instance_id() : id;
  Status started = co_await start_instance(engine_, (*record)->name, restarted,
                                           std::move((*record)->input), !new_id);
  if (!started.ok()) co_return status_response(started);
  co_return check_status_response(base, restarted);
}

boost::asio::awaitable<Response> ManagementApi::query(Request& request, bool purge) {
  QueryParameters parameters;
  if (!parse_query(request.target(), parameters)) co_return bad_parameter("query", "is malformed");
  auto parsed = parse_instance_query(parameters, request[kContinuationHeader]);
  if (auto* refusal = std::get_if<ParameterError>(&parsed)) co_return bad_parameter(*refusal);
  if (purge) {
    Result<std::size_t> purged =
        co_await purge_matching(blocking_, engine_, std::get<engine::InstanceQuery>(parsed));
    if (!purged.ok()) co_return status_response(purged.status());
    // Each node purges the partitions it runs; the answer counts them all.
    std::size_t total = *purged;
    const auto answers = co_await forwarder_.everywhere_else(request);
    for (const auto& [address, answer] : answers) {
      if (answer.result() == status::not_found) continue;  // nothing to purge there
      boost::system::error_code error;
      const json::value body = json::parse(answer.body(), error);
      const json::value* deleted =
          error || !body.is_object() ? nullptr : body.as_object().if_contains("instancesDeleted");
      if (answer.result() != status::ok || deleted == nullptr || !deleted->is_int64()) {
        co_return error_response(
            status::bad_gateway, "partly_purged",
            fmt::format("{} instances purged, but the node at {} answered HTTP {}: {}", total,
                        address, answer.result_int(), answer.body().substr(0, 200)));
      }
      total += static_cast<std::size_t>(deleted->as_int64());
    }
    co_return json_response(total == 0 ? status::not_found : status::ok,
                            json::object{{"instancesDeleted", total}});
  }
  Result<engine::QueryPage> page =
      co_await query_page(blocking_, engine_, std::get<engine::InstanceQuery>(parsed));
  if (!page.ok()) co_return status_response(page.status());
  json::array items;
  for (const auto& record : page->records) items.push_back(instance_status_body(record, false));
  Response response = json_response(status::ok, items);
  if (page->continuation) response.set(kContinuationHeader, *page->continuation);
  co_return response;
}

boost::asio::awaitable<Response> ManagementApi::purge(Request& request, std::string id) {
  if (auto refusal = refuse_invalid_id("instanceId", id)) co_return std::move(*refusal);
  if (auto answer = co_await forwarder_.elsewhere(request, id)) co_return std::move(*answer);
  Status purged = co_await purge_one(engine_, id);
  // As Durable Functions answers: 404 when nothing was purged, unknown or not yet finished.
  if (purged.code() == StatusCode::kFailedPrecondition) {
    co_return error_response(status::not_found, "not_finished", purged.message());
  }
  if (!purged.ok()) co_return status_response(purged);
  co_return json_response(status::ok, json::object{{"instancesDeleted", 1}});
}

boost::asio::awaitable<Response> ManagementApi::send(Request& request, std::string id,
                                                     std::string action, std::string event_name) {
  if (auto refusal = refuse_invalid_id("instanceId", id)) co_return std::move(*refusal);
  if (action == "raiseEvent") {
    if (auto refusal = refuse_invalid_id("eventName", event_name)) co_return std::move(*refusal);
  }
  if (auto answer = co_await forwarder_.elsewhere(request, id)) co_return std::move(*answer);
  QueryParameters query;
  if (!parse_query(request.target(), query)) co_return bad_parameter("query", "is malformed");
  const std::string reason = query.contains("reason") ? query.find("reason")->second : "";
  if (reason.size() > 1000) co_return bad_parameter("reason", "must be at most 1000 characters");
  std::string data = request.body();
  if (action == "raiseEvent") {
    if (data.empty()) data = "null";
    boost::system::error_code error;
    json::parse(data, error);
    if (error) {
      co_return error_response(status::bad_request, "malformed_json", "the event data is not JSON",
                               "body");
    }
  }
  Status sent = co_await send_to_engine(engine_, action, id, event_name, std::move(data), reason);
  if (sent.code() == StatusCode::kNotFound) {
    // Not running: unknown (404), or finished (410, as Durable Functions answers).
    auto record = co_await run_blocking(blocking_, [this, &id] { return engine_.instance(id); });
    if (record.ok() && *record) {
      co_return error_response(status::gone, "instance_finished",
                               fmt::format("instance {} has finished", id));
    }
    co_return status_response(sent);
  }
  if (!sent.ok()) co_return status_response(sent);
  Response accepted{status::accepted, 11};
  accepted.prepare_payload();
  co_return accepted;
}

}  // namespace sluice::http
