#include "pipeline/process_event.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <memory>
#include <variant>

#include "core/ids.h"
#include "engine/activity_effects.h"
#include "storage/mutation.h"

namespace sluice::pipeline {

namespace json = boost::json;

namespace {

// An envelope as the activities read it. `envelope.event_json` points into `input`.
struct ReadEnvelope {
  std::string input;
  Envelope envelope;
  EventFacts facts;
};

// The envelope's event and what it says; an error for any input process_event cannot take. The
// activities of one event run one after another on one thread with the same input, so each thread
// keeps the last envelope it read and the event is parsed once, not once per activity. What is
// returned stays valid until the thread's next call.
Result<const ReadEnvelope*> read_envelope(std::string_view input) {
  thread_local ReadEnvelope last;
  thread_local bool last_valid = false;
  if (last_valid && last.input == input) return &last;
  last_valid = false;
  last.input.assign(input);
  const std::optional<Envelope> envelope = open_envelope(last.input);
  if (!envelope) return invalid_argument("process_event input is not an event envelope");
  SLUICE_ASSIGN_OR_RETURN(last.facts, read_event_facts(envelope->event_json));
  last.envelope = *envelope;
  last_valid = true;
  return &last;
}

// The dead-letter record, with whatever is known of the event: the event and its receipt time
// from the envelope, or the input as it came when it is no envelope. It never fails, so an event
// that cannot be processed always ends dead-lettered (DESIGN invariant 3). Its id is the event's,
// or the instance's when the event has no usable one. Built outside the coroutine: GCC 12
// miscompiles aggregates of strings initialised inside coroutine frames.
std::string dead_letter_record(const std::string& instance_id, const std::string& input,
                               const TaskFailedError& failure, const RetryPolicy& retry,
                               Micros now) {
  boost::system::error_code error;
  json::value parsed = json::parse(input, error);
  json::value event = nullptr;
  json::value received_at = nullptr;
  if (error) {
    event = nullptr;  // not JSON: nothing of it can be kept as the event
  } else if (const json::object* envelope = parsed.if_object();
             envelope != nullptr && envelope->contains("event")) {
    event = envelope->at("event");
    if (const json::value* received = envelope->if_contains("received_at")) received_at = *received;
  } else {
    event = std::move(parsed);
  }
  std::string id = instance_id;
  if (const json::object* fields = event.if_object()) {
    const json::value* event_id = fields->if_contains("event_id");
    if (event_id != nullptr && event_id->is_string() && is_valid_id(event_id->get_string())) {
      id = event_id->get_string();
    }
  }
  json::object policy{{"max_attempts", retry.max_attempts},
                      {"first_interval_ms", retry.first_interval / 1000},
                      {"backoff_coefficient", retry.backoff_coefficient},
                      {"max_interval_ms", retry.max_interval / 1000}};
  json::object failure_fields{{"activity", failure.task_name()},
                              {"code", failure.code()},
                              {"message", failure.what()},
                              {"attempts", failure.attempts()},
                              {"first_attempt_at", format_rfc3339(failure.first_attempt_at())},
                              {"last_attempt_at", format_rfc3339(failure.last_attempt_at())},
                              {"retry_policy", std::move(policy)}};
  json::object record{{"id", id},
                      {"event", std::move(event)},
                      {"received_at", std::move(received_at)},
                      {"error", std::move(failure_fields)},
                      {"instance_id", instance_id},
                      {"dead_lettered_at", format_rfc3339(now)}};
  return json::serialize(record);
}

// process_event's input as the management API takes it: one event exactly as POST /api/events
// takes it, checked the same way and put in an envelope received now, or an envelope as the
// intake consumer writes it (a status read with showInput shows one). An event without an
// `event_id` takes the instance's id, as an ingested event's instance takes the event's.
std::variant<std::string, InputRefusal> admit_event(std::string_view instance_id, std::string input,
                                                    const Clock& clock, IdGenerator& ids) {
  if (auto envelope = open_envelope(input);
      envelope && read_event_facts(envelope->event_json).ok()) {
    return input;
  }
  boost::system::error_code error;
  json::value parsed = json::parse(input, error);
  if (error) return InputRefusal{"", "is not JSON"};
  json::object* event = parsed.if_object();
  if (event == nullptr) return InputRefusal{"", "must be one event: a JSON object"};
  if (!event->contains("event_id")) {
    (*event)["event_id"] = instance_id;
    input = json::serialize(parsed);
  }
  auto checked = parse_events(input, BodyFormat::kJson, {.max_events = 1}, ids);
  if (auto* refusal = std::get_if<EventError>(&checked)) {
    return InputRefusal{std::move(refusal->field), std::move(refusal->message)};
  }
  return make_envelope(std::get<ParsedBody>(checked).events.front().json, clock.now());
}

Task<std::string> process_event(OrchestrationContext& ctx, std::string input,
                                PipelineOptions options) {
  std::vector<Task<std::string>> work;
  for (const char* activity : {"stats", "alerts", "logging"}) {
    work.push_back(ctx.call_activity(activity, input, options.retry));
  }
  std::optional<TaskFailedError> failure;
  try {
    co_await when_all(std::move(work));
  } catch (const TaskFailedError& error) {
    failure = error;
  }
  if (!failure) co_return R"({"status":"processed"})";
  // The record commits in the same batch as the failure below: the deadletter activity's
  // completion and this run's end are one turn of the partition.
  co_await ctx.call_activity("deadletter", dead_letter_record(ctx.instance_id(), input, *failure,
                                                              options.retry, ctx.now()));
  throw *failure;
}

// One request per webhook that takes this event's type. The idempotency key is the event id:
// it stays the same across retries, restarts and dead-letter replays, so a receiver that keeps
// it sees each event once even when a delivery is repeated.
std::vector<webhooks::WebhookRequest> webhook_requests(const std::vector<WebhookConfig>& webhooks,
                                                       const EventFacts& facts,
                                                       const std::string& body) {
  std::vector<webhooks::WebhookRequest> requests;
  for (const auto& webhook : webhooks) {
    if (!webhook.event_types.empty() &&
        std::find(webhook.event_types.begin(), webhook.event_types.end(), facts.type) ==
            webhook.event_types.end()) {
      continue;
    }
    webhooks::WebhookRequest request{.webhook = webhook.name,
                                     .url = webhook.url,
                                     .body = body,
                                     .headers = {{"X-Sluice-Event-Id", facts.event_id},
                                                 {"X-Sluice-Event-Type", facts.type},
                                                 {"Idempotency-Key", facts.event_id}},
                                     .timeout = std::chrono::milliseconds(webhook.timeout_ms)};
    if (!webhook.secret.empty()) {
      request.headers.emplace_back("X-Sluice-Signature", webhooks::sign(webhook.secret, body));
    }
    requests.push_back(std::move(request));
  }
  return requests;
}

}  // namespace

void register_pipeline(Registry& registry, StreamStore& streams,
                       queue::DeadLetterStore& dead_letters, AlertFeed& alerts,
                       webhooks::WebhookSender& sender, const Clock& clock,
                       PipelineOptions options) {
  registry.add_orchestrator(
      kProcessEvent,
      [options](OrchestrationContext& ctx, std::string input) {
        return process_event(ctx, std::move(input), options);
      },
      [&clock, ids = std::make_shared<IdGenerator>(clock)](std::string_view instance_id,
                                                           std::string input) {
        return admit_event(instance_id, std::move(input), clock, *ids);
      });
  // stats, logging and deadletter only hand back document changes, so they are local
  // activities: they run in the turn that schedules them and commit with it.
  registry.add_local_activity(
      "stats",
      [&streams, &clock](ActivityContext& ctx, std::string_view input) -> Result<std::string> {
        SLUICE_ASSIGN_OR_RETURN(const ReadEnvelope* read, read_envelope(input));
        SLUICE_RETURN_IF_ERROR(streams.count(engine::mutation_of(ctx.effects()), read->facts,
                                             format_rfc3339(clock.now())));
        return std::string("counted");
      });
  registry.add_local_activity(
      "logging", [&streams](ActivityContext& ctx, std::string_view input) -> Result<std::string> {
        SLUICE_ASSIGN_OR_RETURN(const ReadEnvelope* read, read_envelope(input));
        SLUICE_RETURN_IF_ERROR(streams.log(engine::mutation_of(ctx.effects()), read->facts,
                                           read->envelope.event_json, read->envelope.received_at,
                                           ctx.instance_id()));
        return std::string("logged");
      });
  if (options.webhooks.empty()) {
    // Only the in-process feed, which does not block: a local activity too. Publishing is
    // at-least-once either way, so publishing before the turn commits changes no promise.
    registry.add_local_activity(
        "alerts", [&alerts](ActivityContext&, std::string_view input) -> Result<std::string> {
          SLUICE_ASSIGN_OR_RETURN(const ReadEnvelope* read, read_envelope(input));
          alerts.publish(std::string(read->envelope.event_json));
          return std::string("published");
        });
  } else {
    // Asynchronous: while webhooks answer, no worker thread waits.
    registry.add_async_activity(
        "alerts", [&alerts, &sender, webhooks = options.webhooks](
                      ActivityContext&, std::string_view input, ActivityDone done) {
          auto read = read_envelope(input);
          if (!read.ok()) return done(read.status());
          std::string event((*read)->envelope.event_json);
          std::vector<webhooks::WebhookRequest> requests =
              webhook_requests(webhooks, (*read)->facts, event);
          sender.post_all(std::move(requests), [&alerts, event = std::move(event),
                                                done = std::move(done)](Status delivered) {
            if (!delivered.ok()) return done(delivered);
            // After the deliveries, so a failing webhook does not repeat the feed on every retry.
            // This runs on the webhook sender's thread: nothing may escape it.
            try {
              alerts.publish(event);
            } catch (const std::exception& error) {
              return done(internal_error(fmt::format("publishing the alert: {}", error.what())));
            }
            done(std::string("published"));
          });
        });
  }
  registry.add_local_activity(
      "deadletter",
      [&dead_letters](ActivityContext& ctx, std::string_view record) -> Result<std::string> {
        boost::system::error_code error;
        json::value parsed = json::parse(record, error);
        const json::object* fields = error ? nullptr : parsed.if_object();
        const json::value* id = fields == nullptr ? nullptr : fields->if_contains("id");
        if (id == nullptr || !id->is_string()) {
          return invalid_argument("dead-letter record is malformed");
        }
        dead_letters.add(engine::mutation_of(ctx.effects()), id->get_string(), record);
        return std::string("dead-lettered");
      });
}

}  // namespace sluice::pipeline
