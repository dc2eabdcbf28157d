#pragma once

// process_event: the orchestration run for every event taken off the intake queue. It calls
// stats, alerts and logging in parallel under the configured retry policy and waits for all
// three. alerts posts the event to every webhook whose filter takes its type, then publishes it
// to the in-process feed. When one gives up, it writes the dead-letter record (committed with that
// failure) and ends Failed with the error as output; otherwise it ends Completed.
//
// Its input is an envelope: {"received_at": "RFC 3339", "event": {...the accepted event...}}.
// Started through the management API, it also takes one event as POST /api/events takes it, and
// refuses anything else before an instance exists. A failure that no retry can mend (see
// is_permanent_failure) is dead-lettered after its first attempt.

#include <string>

#include "core/clock.h"
#include "pipeline/alert_feed.h"
#include "pipeline/envelope.h"
#include "pipeline/pipeline_settings.h"
#include "pipeline/stream_store.h"
#include "queue/dead_letter_store.h"
#include "sluice/orchestration.h"
#include "webhooks/webhook_sender.h"

namespace sluice::pipeline {

inline constexpr const char* kProcessEvent = "process_event";

struct PipelineOptions {
  RetryPolicy retry{.max_attempts = 5,
                    .first_interval = 1'000'000,
                    .backoff_coefficient = 2.0,
                    .max_interval = 30'000'000};
  std::vector<WebhookConfig> webhooks;  // each gets the events of its types
};

// Registers process_event and its activities. Every reference must outlive the registry's use.
void register_pipeline(Registry& registry, StreamStore& streams,
                       queue::DeadLetterStore& dead_letters, AlertFeed& alerts,
                       webhooks::WebhookSender& sender, const Clock& clock,
                       PipelineOptions options);

}  // namespace sluice::pipeline
