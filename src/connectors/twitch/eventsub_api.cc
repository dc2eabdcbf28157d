#include "connectors/twitch/eventsub_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "http/offload.h"
#include "pipeline/event.h"
#include "storage/mutation.h"

namespace sluice::twitch {
namespace {

namespace json = boost::json;
using http::beast_http::status;

constexpr std::string_view kIdHeader = "Twitch-Eventsub-Message-Id";
constexpr std::string_view kTimestampHeader = "Twitch-Eventsub-Message-Timestamp";
constexpr std::string_view kSignatureHeader = "Twitch-Eventsub-Message-Signature";
constexpr std::string_view kTypeHeader = "Twitch-Eventsub-Message-Type";

// A string member of 1 to `max` printable ASCII characters: the subscription's identifying parts.
bool short_ascii(const json::object& object, std::string_view key, std::size_t max) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return false;
  const json::string& text = value->get_string();
  return !text.empty() && text.size() <= max &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// Why the body's `subscription` is unusable, naming the member; empty when it is fine.
std::string subscription_problem(const json::object& subscription) {
  for (auto [key, max] : {std::pair<std::string_view, std::size_t>{"id", 128},
                          {"type", 128},
                          {"version", 16},
                          {"status", 64}}) {
    if (!short_ascii(subscription, key, max)) return fmt::format("subscription.{}", key);
  }
  return {};
}

// Made outside the coroutines: GCC 12 miscompiles braced aggregates of strings in a coroutine
// frame (docs/architecture.md, "GCC 12 coroutine rules").
EventSubApi::Unmappable unmappable(std::string code, std::string field, std::string message) {
  return {std::move(code), std::move(field), std::move(message)};
}

// The dead-letter record of a notification that is authentic but cannot become an event: the
// body as it came, the error naming the field, where it came from. Twitch would send it again
// until it got a 2xx and then revoke the subscription; kept here, it is answered 2xx.
std::string dead_letter_record(std::string_view id, std::string_view message_id,
                               std::string_view sent_at, const json::object& subscription,
                               std::string_view raw, const EventSubApi::Unmappable& why,
                               const std::string& now) {
  return json::serialize(json::object{{"id", id},
                                      {"event", nullptr},
                                      {"body", raw},
                                      {"body_encoding", "text"},
                                      {"received_at", now},
                                      {"error",
                                       {{"activity", "intake"},
                                        {"code", why.code},
                                        {"field", why.field},
                                        {"message", fmt::format("{}: {}", why.field, why.message)},
                                        {"attempts", 1},
                                        {"first_attempt_at", now},
                                        {"last_attempt_at", now}}},
                                      {"source",
                                       {{"twitch_message_id", message_id},
                                        {"subscription_id", subscription.at("id")},
                                        {"subscription_type", subscription.at("type")},
                                        {"sent_at", sent_at}}},
                                      {"instance_id", nullptr},
                                      {"dead_lettered_at", now}});
}

}  // namespace

EventSubApi::EventSubApi(const TwitchSettings& settings, queue::IntakeQueue& intake,
                         const queue::DeadLetterStore& dead_letters, storage::Backend& backend,
                         SubscriptionLog& subscriptions, http::Metrics& metrics, const Clock& clock,
                         IdGenerator& ids)
    : settings_(settings),
      intake_(intake),
      dead_letters_(dead_letters),
      backend_(backend),
      subscriptions_(subscriptions),
      metrics_(metrics),
      clock_(clock),
      ids_(ids) {}

EventSubApi::~EventSubApi() { storing_.join(); }

std::vector<http::Route> EventSubApi::routes() {
  return {{http::beast_http::verb::post, "/api/twitch/eventsub", http::Access::kOpen,
           [this](http::Request& request, http::PathParameters) { return post(request); }},
          {http::beast_http::verb::get, "/api/twitch/subscriptions", http::Access::kRead,
           [this](http::Request& request, http::PathParameters parameters) {
             return list(request, std::move(parameters));
           }}};
}

http::Response EventSubApi::refuse(Refusal why, status code_status, std::string_view code,
                                   std::string_view field, std::string_view message) {
  counters_.refused[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
  return http::error_response(code_status, code, message, field);
}

boost::asio::awaitable<http::Response> EventSubApi::post(http::Request& request) {
  std::string& body = request.body();
  if (body.size() > kMaxBodyBytes) {
    co_return refuse(Refusal::kTooLarge, status::payload_too_large, "payload_too_large", "body",
                     fmt::format("must be at most {} bytes", kMaxBodyBytes));
  }
  // Authenticity first: nothing about an unsigned message is looked at.
  const std::string_view message_id = request[kIdHeader];
  const std::string_view sent_at = request[kTimestampHeader];
  const std::string_view signature = request[kSignatureHeader];
  for (auto [name, value] :
       {std::pair{kSignatureHeader, signature}, std::pair{kIdHeader, message_id},
        std::pair{kTimestampHeader, sent_at}}) {
    if (value.empty()) {
      co_return refuse(Refusal::kSignature, status::forbidden, "invalid_signature", name,
                       "is missing");
    }
  }
  if (!signature_matches(*settings_.secret, message_id, sent_at, body, signature)) {
    if (std::uint64_t held_back = 0; refusals_.now(held_back)) {
      spdlog::warn("twitch: refused an EventSub message whose signature does not match{}",
                   held_back > 0 ? fmt::format(" (and {} more since)", held_back) : "");
    }
    co_return refuse(Refusal::kSignature, status::forbidden, "invalid_signature", kSignatureHeader,
                     "does not match the message and twitch.secret");
  }
  Micros sent = 0;
  if (!parse_rfc3339(sent_at, sent)) {
    co_return refuse(Refusal::kTimestamp, status::forbidden, "invalid_timestamp", kTimestampHeader,
                     "must be an RFC 3339 time");
  }
  const Micros margin = settings_.max_message_age_seconds * 1'000'000;
  const Micros now = clock_.now();
  if (sent < now - margin || sent > now + margin) {
    co_return refuse(Refusal::kTimestamp, status::forbidden, "invalid_timestamp", kTimestampHeader,
                     fmt::format("is more than {} seconds {} (twitch.max_message_age_seconds)",
                                 settings_.max_message_age_seconds, sent < now ? "old" : "ahead"));
  }

  const std::string_view type = request[kTypeHeader];
  Kind kind;
  if (type == "notification") {
    kind = Kind::kNotification;
  } else if (type == "webhook_callback_verification") {
    kind = Kind::kVerification;
  } else if (type == "revocation") {
    kind = Kind::kRevocation;
  } else {
    co_return refuse(Refusal::kMalformed, status::bad_request, "invalid_field", kTypeHeader,
                     "must be notification, webhook_callback_verification or revocation");
  }
  boost::system::error_code error;
  json::value root = json::parse(body, error);
  if (error || !root.is_object()) {
    co_return refuse(Refusal::kMalformed, status::bad_request, "malformed_json", "body",
                     "must be a JSON object");
  }
  const json::value* subscription = root.get_object().if_contains("subscription");
  if (subscription == nullptr || !subscription->is_object()) {
    co_return refuse(Refusal::kMalformed, status::bad_request, "missing_field", "subscription",
                     "must be an object");
  }
  if (std::string field = subscription_problem(subscription->get_object()); !field.empty()) {
    co_return refuse(Refusal::kMalformed, status::bad_request, "invalid_field", field,
                     "must be a string of printable ASCII");
  }
  const json::object& about = subscription->get_object();

  if (kind == Kind::kVerification) {
    const json::value* challenge = root.get_object().if_contains("challenge");
    if (challenge == nullptr || !challenge->is_string()) {
      co_return refuse(Refusal::kMalformed, status::bad_request, "missing_field", "challenge",
                       "must be a string");
    }
    if (Status stored = co_await record(about, type, sent_at); !stored.ok()) {
      co_return http::status_response(stored);
    }
    counters_.messages[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
    spdlog::info("twitch: verified the EventSub subscription {} ({})", about.at("id").get_string(),
                 about.at("type").get_string());
    http::Response response(status::ok, 11);
    response.set(http::beast_http::field::content_type, "text/plain");
    response.body() = challenge->get_string();
    response.prepare_payload();
    co_return response;
  }
  if (kind == Kind::kRevocation) {
    // The type header is not signed: a notification sent again as a revocation is refused.
    if (root.get_object().contains("event") || about.at("status").get_string() == "enabled") {
      co_return refuse(Refusal::kMalformed, status::bad_request, "invalid_field", kTypeHeader,
                       "says revocation, but the subscription is enabled or the body has an event");
    }
    if (Status stored = co_await record(about, type, sent_at); !stored.ok()) {
      co_return http::status_response(stored);
    }
    counters_.messages[static_cast<std::size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("twitch: Twitch revoked the EventSub subscription {} ({}): {}",
                 about.at("id").get_string(), about.at("type").get_string(),
                 about.at("status").get_string());
    co_return http::json_response(status::ok, json::object{{"revoked", about.at("id")}});
  }
  co_return co_await notification(message_id, sent_at, about, root.get_object(), body);
}

boost::asio::awaitable<http::Response> EventSubApi::notification(std::string_view message_id,
                                                                 std::string_view sent_at,
                                                                 const json::object& subscription,
                                                                 const json::object& body,
                                                                 std::string_view raw) {
  const json::value* event = body.if_contains("event");
  if (event == nullptr || !event->is_object()) {
    co_return refuse(Refusal::kMalformed, status::bad_request, "missing_field", "event",
                     "must be an object");
  }
  if (!pipeline::is_valid_id(message_id)) {
    co_return refuse(Refusal::kMalformed, status::bad_request, "invalid_field", kIdHeader,
                     "must be 1 to 128 of A-Z, a-z, 0-9, '.', '_', ':' and '-'");
  }
  const std::string_view type = subscription.at("type").get_string();
  Mapping mapping =
      map_notification(type, event->get_object(), message_id, sent_at,
                       settings_.stream_id == "id" ? StreamIdFrom::kId : StreamIdFrom::kLogin);
  if (auto* problem = std::get_if<MappingError>(&mapping)) {
    const Unmappable why = unmappable("invalid_field", problem->field, problem->message);
    co_return co_await dead_letter(message_id, sent_at, subscription, raw, why);
  }
  json::object answer{{"subscription_type", type}};
  if (auto* skipped = std::get_if<NotCounted>(&mapping)) {
    counters_.not_counted.fetch_add(1, std::memory_order_relaxed);
    answer["counted"] = false;
    answer["reason"] = skipped->reason;
  } else {
    // The mapped event goes through the one validation every event passes.
    std::string text = json::serialize(std::get<MappedEvent>(mapping).event);
    auto parsed = pipeline::parse_events(text, pipeline::BodyFormat::kJson, {1}, ids_);
    if (auto* invalid = std::get_if<pipeline::EventError>(&parsed)) {
      const Unmappable why =
          unmappable(invalid->code, fmt::format("event (as the event's {})", invalid->field),
                     invalid->message);
      co_return co_await dead_letter(message_id, sent_at, subscription, raw, why);
    }
    auto& events = std::get<pipeline::ParsedBody>(parsed).events;
    std::vector<queue::NewMessage> messages;
    messages.push_back({events[0].event_id, std::move(events[0].json)});
    auto [appended, outcome] = co_await http::async_append(intake_, std::move(messages));
    if (!appended.ok()) co_return http::status_response(appended);
    metrics_.events_accepted(outcome.accepted());
    counters_.queued.fetch_add(1, std::memory_order_relaxed);
    const bool duplicate = outcome.duplicate[0];
    if (duplicate) counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    answer["counted"] = true;
    answer["event_id"] = message_id;
    answer["duplicate"] = duplicate;
  }
  counters_.messages[static_cast<std::size_t>(Kind::kNotification)].fetch_add(
      1, std::memory_order_relaxed);
  // The event is queued whatever becomes of its subscription's record.
  if (Status stored = co_await record(subscription, "notification", sent_at); !stored.ok()) {
    spdlog::warn("twitch: cannot store the record of subscription {}: {}",
                 subscription.at("id").get_string(), stored.to_string());
  }
  co_return http::json_response(
      std::get_if<NotCounted>(&mapping) != nullptr ? status::ok : status::accepted,
      std::move(answer));
}

boost::asio::awaitable<http::Response> EventSubApi::dead_letter(std::string_view message_id,
                                                                std::string_view sent_at,
                                                                const json::object& subscription,
                                                                std::string_view raw,
                                                                const Unmappable& why) {
  const std::string id = "twitch-" + std::string(message_id);
  const std::string record = dead_letter_record(id, message_id, sent_at, subscription, raw, why,
                                                format_rfc3339(clock_.now()));
  storage::Backend& backend = backend_;
  const queue::DeadLetterStore& store = dead_letters_;
  // Captures by reference only (docs/architecture.md, "GCC 12 coroutine rules").
  Status stored = co_await http::run_blocking(storing_, [&backend, &store, &id, &record] {
    storage::Mutation mutation;
    store.add_new(mutation, id, record);
    return backend.commit(mutation);
  });
  // Already there: Twitch sent the message again.
  const bool again = stored.code() == StatusCode::kAlreadyExists;
  if (!stored.ok() && !again) co_return http::status_response(stored);
  if (!again) counters_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
  counters_.messages[static_cast<std::size_t>(Kind::kNotification)].fetch_add(
      1, std::memory_order_relaxed);
  if (std::uint64_t held_back = 0; refusals_.now(held_back)) {
    spdlog::warn("twitch: notification {} cannot become an event ({}: {}); dead letter {}{}",
                 message_id, why.field, why.message, id,
                 held_back > 0 ? fmt::format(" (and {} more since)", held_back) : "");
  }
  co_return http::json_response(
      status::ok,
      json::object{
          {"counted", false},
          {"dead_letter", id},
          {"error", {{"code", why.code}, {"field", why.field}, {"message", why.message}}}});
}

boost::asio::awaitable<http::Response> EventSubApi::list(http::Request&, http::PathParameters) {
  co_return http::json_response(status::ok, json::object{{"subscriptions", subscriptions_.list()}});
}

boost::asio::awaitable<Status> EventSubApi::record(const json::object& subscription,
                                                   std::string_view message_type,
                                                   std::string_view sent_at) {
  if (!subscriptions_.note(subscription, message_type, sent_at)) co_return Status();
  const std::string_view id = subscription.at("id").get_string();
  SubscriptionLog& log = subscriptions_;
  // Captures by reference only (docs/architecture.md, "GCC 12 coroutine rules").
  co_return co_await http::run_blocking(storing_, [&log, &id] { return log.store(id); });
}

std::string EventSubApi::metrics_text() const {
  std::string text;
  auto out = std::back_inserter(text);
  auto load = [](const std::atomic<std::uint64_t>& value) {
    return value.load(std::memory_order_relaxed);
  };
  fmt::format_to(out,
                 "# HELP sluice_twitch_eventsub_messages_total EventSub messages taken, by "
                 "kind.\n# TYPE sluice_twitch_eventsub_messages_total counter\n");
  constexpr std::array<std::string_view, 3> kKinds = {
      "notification", "webhook_callback_verification", "revocation"};
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    fmt::format_to(out, "sluice_twitch_eventsub_messages_total{{type=\"{}\"}} {}\n", kKinds[i],
                   load(counters_.messages[i]));
  }
  fmt::format_to(out,
                 "# HELP sluice_twitch_eventsub_refused_total EventSub requests refused, by "
                 "reason.\n# TYPE sluice_twitch_eventsub_refused_total counter\n");
  constexpr std::array<std::string_view, 4> kReasons = {"signature", "timestamp", "malformed",
                                                        "too_large"};
  for (std::size_t i = 0; i < kReasons.size(); ++i) {
    fmt::format_to(out, "sluice_twitch_eventsub_refused_total{{reason=\"{}\"}} {}\n", kReasons[i],
                   load(counters_.refused[i]));
  }
  auto counter = [&out](std::string_view name, std::string_view help, std::uint64_t value) {
    fmt::format_to(out, "# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
  };
  counter("sluice_twitch_eventsub_events_total",
          "EventSub notifications queued as events (re-sent ones included).",
          load(counters_.queued));
  counter("sluice_twitch_eventsub_duplicates_total",
          "EventSub notifications Twitch sent again, counted once.", load(counters_.duplicates));
  counter("sluice_twitch_eventsub_dead_lettered_total",
          "Authentic EventSub notifications that could not become events, kept as dead letters.",
          load(counters_.dead_lettered));
  counter("sluice_twitch_eventsub_not_counted_total",
          "EventSub notifications acknowledged without an event (types sluice does not count, "
          "gift recipients).",
          load(counters_.not_counted));
  return text;
}

}  // namespace sluice::twitch
