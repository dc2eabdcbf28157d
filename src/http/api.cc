#include "http/api.h"

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
#include "pipeline/process_event.h"

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

struct StreamQuery {
  std::string type;
  std::size_t limit = 50;
  std::optional<std::string> cursor;
};

// The query of GET /api/streams/{id}/events, or the answer refusing it.
std::variant<StreamQuery, Response> parse_stream_query(std::string_view target) {
  StreamQuery query;
  auto url = boost::urls::parse_origin_form(target);
  if (!url)
    return error_response(status::bad_request, "invalid_parameter", "is malformed", "query");
  for (auto param : url->params()) {
    if (param.key == "type") {
      if (!pipeline::is_event_type(param.value)) {
        return error_response(status::bad_request, "invalid_parameter",
                              "must be one of follower, subscription, donation, cheer", "type");
      }
      query.type = param.value;
    } else if (param.key == "limit") {
      if (!parse_query_number<std::size_t>(param.value, 1, 1000, query.limit)) {
        return error_response(status::bad_request, "invalid_parameter",
                              "must be a whole number from 1 to 1000", "limit");
      }
    } else if (param.key == "cursor") {
      // Cursors are "<time>-<event id>" as handed out; anything else is refused.
      const bool cursor_alphabet = std::all_of(param.value.begin(), param.value.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
               c == '-';
      });
      if (param.value.empty() || param.value.size() > 150 || !cursor_alphabet) {
        return error_response(status::bad_request, "invalid_parameter",
                              "is not a cursor this server gave out", "cursor");
      }
      query.cursor = param.value;
    }
  }
  return query;
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

// Built outside any coroutine frame (GCC 12, see management_api.cc).
auto start_replay(engine::Engine& engine, queue::DeadLetterStore& store, const std::string& id,
                  std::string instance_id, std::string input) {
  engine::StartRequest request;
  request.name = pipeline::kProcessEvent;
  request.instance_id = std::move(instance_id);
  request.input = std::move(input);
  storage::Mutation removal;
  store.remove(removal, id);
  return await_status([&engine, request = std::move(request),
                       removal = std::move(removal)](engine::Reply reply) mutable {
    engine.start_instance(std::move(request), std::move(reply), std::move(removal));
  });
}

// Storage work on the blocking pool, captured outside any coroutine frame.
auto list_events(boost::asio::thread_pool& pool, pipeline::StreamStore& streams,
                 std::string stream_id, StreamQuery query) {
  return run_blocking(pool,
                      [&streams, stream_id = std::move(stream_id),
                       query = std::move(query)]() -> Result<pipeline::EventsPage> {
                        return streams.events(stream_id, query.type, query.limit, query.cursor);
                      });
}

auto list_dead_letters_page(boost::asio::thread_pool& pool, queue::DeadLetterStore& store,
                            StreamQuery query) {
  return run_blocking(
      pool, [&store, query = std::move(query)] { return store.list(query.cursor, query.limit); });
}

// Deletes a dead letter: 404 if there is none.
boost::asio::awaitable<Response> delete_dead_letter(boost::asio::thread_pool& pool,
                                                    queue::DeadLetterStore& store, std::string id) {
  Status deleted = co_await run_blocking(pool, [&store, &id]() -> Status {
    SLUICE_ASSIGN_OR_RETURN(auto letter, store.get(id));
    if (!letter) return not_found("no such dead letter");
    storage::Mutation removal;
    store.remove(removal, id);
    return store.commit(removal);
  });
  if (!deleted.ok()) co_return status_response(deleted);
  co_return json_response(status::ok, json::object{{"deleted", 1}});
}

// Starts a new process_event instance for a dead letter's event; the record goes in the same
// commit. Stats still count the event once: its first counting left a marker.
boost::asio::awaitable<Response> replay_dead_letter(boost::asio::thread_pool& pool,
                                                    engine::Engine& engine,
                                                    queue::DeadLetterStore& store,
                                                    const Clock& clock, std::string id,
                                                    UriBase base) {
  auto letter = co_await run_blocking(pool, [&store, &id] { return store.get(id); });
  if (!letter.ok()) co_return status_response(letter.status());
  if (!*letter) co_return error_response(status::not_found, "not_found", "no such dead letter");
  boost::system::error_code error;
  json::value record = json::parse((*letter)->record, error);
  Micros received_at = clock.now();
  if (error || !record.is_object() || !record.as_object().contains("event")) {
    co_return error_response(status::internal_server_error, "internal",
                             "the dead letter is damaged");
  }
  if (const auto* received = record.as_object().if_contains("received_at");
      received != nullptr && received->is_string()) {
    parse_rfc3339(received->get_string(), received_at);
  }
  const std::string instance_id = fmt::format("{}:replay-{}", id, clock.now());
  Status started = co_await start_replay(
      engine, store, id, instance_id,
      pipeline::make_envelope(json::serialize(record.at("event")), received_at));
  if (!started.ok()) co_return status_response(started);
  const std::string status_uri = base.instance_uri(instance_id);
  Response response = json_response(
      status::accepted, json::object{{"id", instance_id}, {"statusQueryGetUri", status_uri}});
  response.set(beast_http::field::location, status_uri);
  co_return response;
}

// A response ready at once, for routes that read nothing.
boost::asio::awaitable<Response> ready(Response response) { co_return response; }

}  // namespace

Api::Api(queue::IntakeQueue& intake, queue::DeadLetterStore& dead_letters, IdGenerator& ids,
         const Clock& clock, ApiOptions options, engine::Engine& engine, const Registry& registry,
         pipeline::StreamStore& streams, CompletionWaiters& completions, Metrics& metrics)
    : intake_(intake),
      dead_letters_(dead_letters),
      ids_(ids),
      clock_(clock),
      options_(std::move(options)),
      auth_(options_.api_keys),
      blocking_(2),
      streams_(streams),
      engine_(engine),
      completions_(completions),
      metrics_(metrics),
      management_(engine, registry, blocking_, completions,
                  UriOptions{options_.public_host, auth_.enabled()}),
      routes_(declare_routes(), auth_) {}

Api::~Api() { blocking_.join(); }

std::vector<Route> Api::declare_routes() {
  using beast_http::verb;
  std::vector<Route> routes{
      {verb::post, "/api/events", Access::kIngest,
       [this](Request& request, PathParameters) { return post_events(request); }},
      {verb::get, "/api/queue", Access::kRead,
       [this](Request&, PathParameters) { return get_queue(); }},
      {verb::get, "/api/streams/{stream_id}/stats", Access::kRead,
       [this](Request&, PathParameters p) { return stream_stats(std::move(p[0])); }},
      {verb::get, "/api/streams/{stream_id}/events", Access::kRead,
       [this](Request& request, PathParameters p) {
         return stream_events(request, std::move(p[0]));
       }},
      {verb::get, "/api/deadletter", Access::kAdmin,
       [this](Request& request, PathParameters) { return list_dead_letters(request); }},
      {verb::get, "/api/deadletter/{id}", Access::kAdmin,
       [this](Request&, PathParameters p) { return get_dead_letter(std::move(p[0])); }},
      {verb::delete_, "/api/deadletter/{id}", Access::kAdmin,
       [this](Request& request, PathParameters p) {
         return change_dead_letter(request, std::move(p[0]), false);
       }},
      {verb::post, "/api/deadletter/{id}/replay", Access::kAdmin,
       [this](Request& request, PathParameters p) {
         return change_dead_letter(request, std::move(p[0]), true);
       }},
      {verb::get, "/metrics", Access::kRead,
       [this](Request&, PathParameters) { return get_metrics(); }},
      {verb::get, "/healthz", Access::kOpen,
       [this](Request&, PathParameters) { return get_health(); }},
  };
  for (Route& route : management_.routes()) routes.push_back(std::move(route));
  return routes;
}

boost::asio::awaitable<Response> Api::post_events(Request& request) {
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

  auto parsed = pipeline::parse_events(request.body(), format, {options_.max_batch_events}, ids_);
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
    spdlog::warn("ingest refused: {}", appended.to_string());
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
        earlier, blocking_, [&engine](const std::string& id) -> CompletionWaiters::Finished {
          auto record = engine.instance(id);
          if (!record.ok() || !*record || !engine::is_terminal((*record)->status)) return nullptr;
          return std::make_shared<engine::InstanceRecord>(std::move(**record));
        });
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

namespace {

std::optional<Response> refuse_invalid_stream(std::string_view stream_id) {
  if (pipeline::is_valid_id(stream_id)) return std::nullopt;
  return error_response(status::bad_request, "invalid_parameter",
                        "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'",
                        "stream_id");
}

}  // namespace

boost::asio::awaitable<Response> Api::stream_stats(std::string stream_id) {
  if (auto refusal = refuse_invalid_stream(stream_id)) co_return std::move(*refusal);
  auto stats = co_await run_blocking(blocking_,
                                     [this, &stream_id] { return streams_.stats_view(stream_id); });
  if (!stats.ok()) co_return status_response(stats.status());
  if (!*stats) {
    co_return error_response(status::not_found, "not_found",
                             fmt::format("no events seen for stream {}", stream_id));
  }
  co_return json_response(status::ok, **stats);
}

boost::asio::awaitable<Response> Api::stream_events(Request& request, std::string stream_id) {
  if (auto refusal = refuse_invalid_stream(stream_id)) co_return std::move(*refusal);
  auto query = parse_stream_query(request.target());
  if (auto* refusal = std::get_if<Response>(&query)) co_return std::move(*refusal);
  auto page =
      co_await list_events(blocking_, streams_, stream_id, std::get<StreamQuery>(std::move(query)));
  if (!page.ok()) co_return status_response(page.status());
  json::array items;
  for (auto& item : page->items) items.push_back(std::move(item));
  co_return json_response(
      status::ok, json::object{{"items", std::move(items)},
                               {"next_cursor", page->next_cursor ? json::value(*page->next_cursor)
                                                                 : json::value(nullptr)}});
}

bool Api::claim_dead_letter(const std::string& id) {
  std::lock_guard lock(claims_mutex_);
  return claimed_dead_letters_.insert(id).second;
}

void Api::release_dead_letter(const std::string& id) {
  std::lock_guard lock(claims_mutex_);
  claimed_dead_letters_.erase(id);
}

boost::asio::awaitable<Response> Api::list_dead_letters(Request& request) {
  auto query = parse_stream_query(request.target());  // limit and cursor, as for events
  if (auto* refusal = std::get_if<Response>(&query)) co_return std::move(*refusal);
  auto page =
      co_await list_dead_letters_page(blocking_, dead_letters_, std::get<StreamQuery>(query));
  if (!page.ok()) co_return status_response(page.status());
  json::array items;
  for (const auto& letter : *page) items.push_back(json::parse(letter.record));
  const bool more = page->size() == std::get<StreamQuery>(query).limit;
  co_return json_response(
      status::ok,
      json::object{{"items", std::move(items)},
                   {"next_cursor", more ? json::value(page->back().id) : json::value(nullptr)}});
}

boost::asio::awaitable<Response> Api::get_dead_letter(std::string id) {
  if (!pipeline::is_valid_id(id)) {
    co_return error_response(status::bad_request, "invalid_parameter", "is not a valid id", "id");
  }
  auto letter = co_await run_blocking(blocking_, [this, &id] { return dead_letters_.get(id); });
  if (!letter.ok()) co_return status_response(letter.status());
  if (!*letter) co_return error_response(status::not_found, "not_found", "no such dead letter");
  co_return json_response(status::ok, json::parse((*letter)->record));
}

boost::asio::awaitable<Response> Api::change_dead_letter(Request& request, std::string id,
                                                         bool replay) {
  if (!pipeline::is_valid_id(id)) {
    co_return error_response(status::bad_request, "invalid_parameter", "is not a valid id", "id");
  }
  if (!claim_dead_letter(id)) {
    co_return error_response(status::conflict, "busy",
                             "this dead letter is being replayed or deleted");
  }
  // No co_await inside a conditional expression: GCC 12 mishandles its temporaries.
  Response response;
  if (replay) {
    UriBase base = management_.uri_base(request);
    response =
        co_await replay_dead_letter(blocking_, engine_, dead_letters_, clock_, id, std::move(base));
  } else {
    response = co_await delete_dead_letter(blocking_, dead_letters_, id);
  }
  release_dead_letter(id);
  co_return response;
}

boost::asio::awaitable<Response> Api::get_health() {
  return ready(json_response(status::ok, json::object{{"status", "ok"}}));
}

boost::asio::awaitable<Response> Api::get_metrics() {
  const Gauges gauges{intake_.depth(), static_cast<std::int64_t>(engine_.active_instances())};
  Response response(status::ok, 11);
  response.set(beast_http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.body() = metrics_.render(gauges);
  response.prepare_payload();
  return ready(std::move(response));
}

boost::asio::awaitable<Response> Api::get_queue() {
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
