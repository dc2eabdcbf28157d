#include "http/events_api.h"

#include <fmt/format.h>

#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <optional>
#include <variant>

#include "core/logging.h"
#include "http/offload.h"
#include "http/query.h"
#include "pipeline/event.h"

namespace sluice::http {

namespace json = boost::json;
using beast_http::status;

namespace {

// The media type without parameters, lower-cased: "Application/JSON; charset=utf-8" →
// "application/json".
std::string media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  std::string lowered(type);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lowered;
}

constexpr unsigned kMaxWaitSeconds = 120;

// The `wait` parameter of POST /api/events: seconds to wait for processing (0 when absent), or
// the answer refusing it.
std::variant<unsigned, Response> parse_wait(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url)
    return error_response(status::bad_request, "invalid_parameter", "is malformed", "query");
  unsigned seconds = 0;
  for (auto param : url->params()) {
    if (param.key != "wait") continue;
    if (!parse_query_number(param.value, 0u, kMaxWaitSeconds, seconds)) {
      return error_response(
          status::bad_request, "invalid_parameter",
          fmt::format("must be a whole number of seconds from 0 to {}", kMaxWaitSeconds), "wait");
    }
  }
  return seconds;
}

// The records of `ids`: those in `finished` as they are there, the others read as they are now;
// absent where there is none.
std::vector<std::optional<engine::InstanceRecord>> current_records(
    engine::Engine& engine, const std::vector<std::string>& ids,
    const std::vector<CompletionWaiters::Finished>& finished) {
  std::vector<std::optional<engine::InstanceRecord>> records;
  records.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (finished[i]) {
      records.emplace_back(*finished[i]);
      continue;
    }
    auto record = engine.instance(ids[i]);
    records.push_back(record.ok() ? std::move(*record) : std::nullopt);
  }
  return records;
}

bool all_finished(const std::vector<std::optional<engine::InstanceRecord>>& records) {
  return std::all_of(records.begin(), records.end(), [](const auto& record) {
    return record && engine::is_terminal(record->status);
  });
}

// The answer to one accepted event: 202 with the check-status URIs, or, when it was waited for
// and has finished, 200 with its status as GET instances/{id} gives it.
Response single_event_response(const std::string& id, const UriBase& base, bool duplicate,
                               const std::optional<engine::InstanceRecord>& finished) {
  if (finished) {
    json::object body = instance_status_body(*finished, false);
    body["id"] = id;
    body["duplicate"] = duplicate;
    Response response = json_response(status::ok, std::move(body));
    response.set(beast_http::field::location, base.instance_uri(id));
    return response;
  }
  return check_status_response(base, id, duplicate);
}

// The answer to an accepted batch; when it was waited for, how many ended in each status, and
// 200 once every one has finished.
Response batch_response(const std::vector<std::string>& ids, std::size_t accepted,
                        const std::vector<std::optional<engine::InstanceRecord>>* records) {
  json::object body{{"accepted", accepted},
                    {"duplicates", ids.size() - accepted},
                    {"ids", json::array(ids.begin(), ids.end())}};
  bool finished = false;
  if (records != nullptr) {
    json::object counts;
    for (const auto& record : *records) {
      const std::string_view name =
          record ? engine::runtime_status_name(record->status) : "Pending";
      counts[name] = counts.contains(name) ? counts[name].as_int64() + 1 : 1;
    }
    body["runtimeStatus"] = std::move(counts);
    finished = all_finished(*records);
  }
  return json_response(finished ? status::ok : status::accepted, std::move(body));
}

}  // namespace

std::vector<Route> EventsApi::routes() {
  return {{beast_http::verb::post, "/api/events", Access::kIngest,
           [this](Request& request, PathParameters) { return post(request); }}};
}

boost::asio::awaitable<Response> EventsApi::post(Request& request) {
  const std::string type = media_type(request[beast_http::field::content_type]);
  pipeline::BodyFormat format;
  if (type == "application/json") {
    format = pipeline::BodyFormat::kJson;
  } else if (type == "application/x-ndjson" || type == "application/ndjson") {
    format = pipeline::BodyFormat::kNdjson;
  } else {
    co_return error_response(status::unsupported_media_type, "unsupported_media_type",
                             "send application/json or application/x-ndjson", "Content-Type");
  }

  auto wait = parse_wait(request.target());
  if (auto* refusal = std::get_if<Response>(&wait)) co_return std::move(*refusal);
  const unsigned wait_seconds = std::get<unsigned>(wait);
  // Waiting answers with the instance's status and output: that is reading.
  if (wait_seconds > 0) {
    if (auto refusal = auth_.check(request, Scope::kRead)) co_return std::move(*refusal);
  }

  auto parsed = pipeline::parse_events(request.body(), format, {max_batch_events_}, ids_);
  if (auto* error = std::get_if<pipeline::EventError>(&parsed)) {
    const auto code =
        error->code == "batch_too_large" ? status::payload_too_large : status::bad_request;
    co_return error_response(code, error->code, error->message, error->field, error->index);
  }
  auto& body = std::get<pipeline::ParsedBody>(parsed);

  std::vector<std::string> ids;
  ids.reserve(body.events.size());
  for (const auto& event : body.events) ids.push_back(event.event_id);
  const bool waiting = wait_seconds > 0;
  // Registered before the append, so that none of these events can finish unseen.
  std::optional<CompletionWaiters::Wait> wait_for;
  if (waiting) {
    wait_for.emplace(completions_, ids, std::chrono::seconds(wait_seconds),
                     co_await boost::asio::this_coro::executor);
  }

  std::vector<queue::NewMessage> messages;
  messages.reserve(body.events.size());
  for (auto& event : body.events) messages.push_back({event.event_id, std::move(event.json)});
  auto [appended, outcome] = co_await async_append(intake_, std::move(messages));
  if (!appended.ok()) {
    if (std::uint64_t held_back = 0; refusals_.now(held_back)) {
      spdlog::warn("ingest refused: {}{}", appended.to_string(),
                   held_back > 0 ? fmt::format(" (and {} more since the last report)", held_back)
                                 : std::string());
    }
    co_return status_response(appended);
  }
  metrics_.events_accepted(outcome.accepted());

  std::vector<std::optional<engine::InstanceRecord>> records;
  if (waiting) {
    engine::Engine& engine = engine_;
    // Only a duplicate (its event accepted before) may have finished before the registration.
    std::vector<std::string> earlier;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (outcome.duplicate[i]) earlier.push_back(ids[i]);
    }
    std::vector<CompletionWaiters::Finished> finished = co_await wait_for->finished(
        earlier, blocking_, [&engine](const std::string& id) { return read_finished(engine, id); });
    // The wait hands back the records of those that finished; only when the deadline came first
    // are the others read, as they are now.
    const bool all_done =
        std::all_of(finished.begin(), finished.end(),
                    [](const CompletionWaiters::Finished& record) { return record; });
    if (all_done) {
      for (const auto& record : finished) records.emplace_back(*record);
    } else {
      records = co_await run_blocking(
          blocking_, [&engine, &ids, &finished] { return current_records(engine, ids, finished); });
    }
  }

  if (body.single) {
    const bool finished = waiting && all_finished(records);
    co_return single_event_response(ids[0], management_.uri_base(request), outcome.duplicate[0],
                                    finished ? records[0] : std::nullopt);
  }
  co_return batch_response(ids, outcome.accepted(), waiting ? &records : nullptr);
}

}  // namespace sluice::http
