#include "connectors/azure/queue_source.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <random>
#include <variant>

#include "connectors/azure/signing.h"
#include "connectors/azure/storage_queue.h"
#include "pipeline/event.h"
#include "storage/mutation.h"

namespace sluice::azure {
namespace {

namespace json = boost::json;

constexpr std::chrono::milliseconds kMinimumPollingInterval{100};
constexpr std::chrono::seconds kRequestTimeout{30};

// A body is one event, a JSON array of events, or NDJSON. A text that is not one JSON value is
// read as NDJSON; if that fails too, the JSON error is the one reported.
std::variant<pipeline::ParsedBody, pipeline::EventError> parse_body(
    std::string text, const pipeline::ParseOptions& options, IdGenerator& ids) {
  // parse_events leaves the text as it was (it only reserves padding): the second parse reads it
  // again.
  auto parsed = pipeline::parse_events(text, pipeline::BodyFormat::kJson, options, ids);
  const auto* error = std::get_if<pipeline::EventError>(&parsed);
  if (error == nullptr || error->code != "malformed_json") return parsed;
  auto lines = pipeline::parse_events(text, pipeline::BodyFormat::kNdjson, options, ids);
  if (std::holds_alternative<pipeline::ParsedBody>(lines)) return lines;
  return parsed;
}

// The next wait after an empty poll or a failure: doubled, with a random part so that receivers
// do not poll in step, within [minimum, maximum].
std::chrono::milliseconds back_off(std::chrono::milliseconds delay,
                                   std::chrono::milliseconds maximum) {
  thread_local std::mt19937 random(std::random_device{}());
  const auto doubled = std::max(kMinimumPollingInterval, delay * 2);
  std::uniform_int_distribution<std::int64_t> jitter(0, doubled.count() / 5);
  return std::min(maximum, doubled + std::chrono::milliseconds(jitter(random)));
}

}  // namespace

QueueSource::QueueSource(const AzureSettings& settings, Options options, queue::IntakeQueue& intake,
                         queue::DeadLetterStore& dead_letters, queue::Outbox& poison,
                         storage::Backend& backend, const Clock& clock, IdGenerator& ids)
    : settings_(settings),
      options_(options),
      intake_(intake),
      dead_letters_(dead_letters),
      poison_(poison),
      backend_(backend),
      clock_(clock),
      ids_(ids) {}

QueueSource::~QueueSource() { stop(); }

void QueueSource::start() {
  receivers_.start(
      "azure-queue", [this](const std::stop_token& stop) { run(stop); },
      static_cast<unsigned>(settings_.receivers));
}

void QueueSource::stop() { receivers_.stop(); }

void QueueSource::run(const std::stop_token& stop) {
  StorageQueue queue(*settings_.storage, settings_.queue, clock_, kRequestTimeout);
  const std::chrono::milliseconds longest(settings_.max_polling_interval_ms);
  StoppableSleep sleep;
  std::chrono::milliseconds delay{0};
  bool failing = false;  // the last attempt failed: its warning was logged
  while (!stop.stop_requested()) {
    Result<std::size_t> received = drain_once(queue, sleep, stop);
    // A queue that is not there yet is created (a SAS without that right just keeps waiting).
    if (received.status().code() == StatusCode::kNotFound) {
      const Status created = queue.create();
      if (created.ok()) received = std::size_t{0};
    }
    if (received.ok()) {
      if (failing) spdlog::info("azure: queue {} answers again", settings_.queue);
      failing = false;
      // A full speed while messages come; less and less often while the queue is empty.
      delay = *received > 0 ? std::chrono::milliseconds(0) : back_off(delay, longest);
    } else {
      counters_.failures.fetch_add(1, std::memory_order_relaxed);
      if (!failing)
        spdlog::warn("azure: queue {}: {}", settings_.queue, received.status().to_string());
      failing = true;
      delay = back_off(delay, longest);
    }
    if (delay.count() > 0 && !sleep.sleep(delay, stop)) break;
  }
}

Result<std::size_t> QueueSource::drain_once(StorageQueue& queue, StoppableSleep& sleep,
                                            const std::stop_token& stop) {
  SLUICE_ASSIGN_OR_RETURN(
      auto messages, queue.receive(static_cast<int>(settings_.batch_size),
                                   std::chrono::seconds(settings_.visibility_timeout_seconds)));
  std::vector<queue::NewMessage> appended;
  std::vector<const QueueMessage*> stored;
  Status rejecting;  // the first poison message that could not be moved; the others go on
  auto keep_first = [&rejecting](Status status) {
    if (rejecting.ok() && !status.ok()) rejecting = std::move(status);
  };
  for (const QueueMessage& message : messages) {
    if (message.dequeue_count > settings_.max_dequeue_count) {
      keep_first(reject(
          queue, message, message.text, "too_many_dequeues", "",
          fmt::format("was received {} times without being stored (azure.max_dequeue_count is {})",
                      message.dequeue_count, settings_.max_dequeue_count)));
      continue;
    }
    std::string body = message.text;
    if (settings_.message_encoding == "base64") {
      auto decoded = base64_decode(message.text);
      if (!decoded) {
        keep_first(reject(queue, message, message.text, "invalid_encoding", "MessageText",
                          "is not base64; set azure.message_encoding = \"none\" for "
                          "messages of raw JSON"));
        continue;
      }
      body = std::move(*decoded);
    }
    const std::string derived_base = "azure-" + message.id;
    pipeline::ParseOptions options{.max_events = options_.max_events,
                                   .derived_id_base = derived_base};
    if (!pipeline::is_valid_id(derived_base + "-0")) options.derived_id_base = {};
    auto parsed = parse_body(body, options, ids_);
    if (auto* error = std::get_if<pipeline::EventError>(&parsed)) {
      std::string text = error->message;
      if (error->index) text = fmt::format("event {}: {}", *error->index, text);
      keep_first(reject(queue, message, body, error->code, error->field, text));
      continue;
    }
    for (auto& event : std::get<pipeline::ParsedBody>(parsed).events) {
      appended.push_back({std::move(event.event_id), std::move(event.json)});
    }
    stored.push_back(&message);
  }
  if (stored.empty()) {
    SLUICE_RETURN_IF_ERROR(rejecting);
    return messages.size();
  }

  // Stored first; deleted only after. A failed append leaves every message where it is; they
  // are seen again once their visibility ends, and the append is tried again meanwhile.
  const std::size_t events = appended.size();
  std::chrono::milliseconds delay{0};
  while (true) {
    auto outcome = intake_.append_and_wait(appended);
    if (outcome.ok()) break;
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("azure: storing {} events from queue {}: {}", events, settings_.queue,
                 outcome.status().to_string());
    delay = back_off(delay, std::chrono::milliseconds(5000));
    if (!sleep.sleep(delay, stop)) return unavailable("stopping before the events were stored");
  }
  counters_.events.fetch_add(events, std::memory_order_relaxed);
  for (const QueueMessage* message : stored) {
    Status removed = queue.remove(*message);
    // Not found: the message became visible again and another receiver took it; its events are
    // stored, and stored again they count once. Any other failure leaves it to be read again
    // (and counted once again); the others are still deleted.
    if (!removed.ok() && removed.code() != StatusCode::kNotFound) {
      keep_first(std::move(removed));
      continue;
    }
    counters_.messages.fetch_add(1, std::memory_order_relaxed);
  }
  SLUICE_RETURN_IF_ERROR(rejecting);
  return messages.size();
}

Status QueueSource::reject(StorageQueue& queue, const QueueMessage& message,
                           const std::string& body_text, const std::string& code,
                           const std::string& field, const std::string& error) {
  std::string id = "azure-" + message.id;
  if (!pipeline::is_valid_id(id)) id = "azure-" + ids_.next();
  const Micros now = clock_.now();
  json::object failure{{"activity", "intake"},
                       {"code", code},
                       {"message", field.empty() ? error : fmt::format("{}: {}", field, error)},
                       {"attempts", message.dequeue_count},
                       {"first_attempt_at", format_rfc3339(message.inserted_at)},
                       {"last_attempt_at", format_rfc3339(now)}};
  if (!field.empty()) failure["field"] = field;
  // The body as text where it is UTF-8 (JSON holds nothing else), else as it came, in base64.
  const bool text = simdjson::validate_utf8(body_text.data(), body_text.size());
  json::object record{{"id", id},
                      {"event", nullptr},
                      {"body", text ? body_text : base64_encode(body_text)},
                      {"body_encoding", text ? "text" : "base64"},
                      {"received_at", format_rfc3339(message.inserted_at)},
                      {"error", std::move(failure)},
                      {"source",
                       {{"azure_queue", settings_.queue},
                        {"message_id", message.id},
                        {"dequeue_count", message.dequeue_count},
                        {"inserted_at", format_rfc3339(message.inserted_at)}}},
                      {"instance_id", nullptr},
                      {"dead_lettered_at", format_rfc3339(now)}};
  // The dead letter and the poison queue's copy (the body exactly as it came, as the queue
  // trigger's) commit together, once.
  storage::Mutation mutation;
  dead_letters_.add_new(mutation, id, json::serialize(record));
  poison_.add(mutation, settings_.queue + "-poison\n" + message.text);
  Status recorded = backend_.commit(mutation);
  // Already there: an earlier attempt recorded it and stopped before the message was deleted.
  if (!recorded.ok() && recorded.code() != StatusCode::kAlreadyExists) return recorded;
  Status removed = queue.remove(message);
  if (!removed.ok() && removed.code() != StatusCode::kNotFound) return removed;
  if (recorded.ok()) {
    counters_.poisoned.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("azure: message {} from queue {} is poison ({}); dead letter {}", message.id,
                 settings_.queue, code, id);
  }
  return {};
}

}  // namespace sluice::azure
