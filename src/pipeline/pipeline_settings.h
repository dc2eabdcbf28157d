#pragma once

// How process_event runs and where its alerts go: `pipeline.*` and `webhooks.NAME.*`.

#include <cstddef>
#include <string>
#include <vector>

#include "core/settings.h"
#include "sluice/orchestration.h"

namespace sluice::pipeline {

// One outbound webhook: `webhooks.NAME.url`, `.secret`, `.events`, `.timeout_ms`.
struct WebhookConfig {
  std::string name;    // [a-z0-9_], 1 to 63 characters
  std::string url;     // http:// or https://, required
  std::string secret;  // HMAC-SHA256 key for the signature header; empty: unsigned
  std::vector<std::string> event_types;  // empty: every type
  unsigned timeout_ms = 5000;
};

struct PipelineSettings {
  std::size_t max_in_flight = 10'000;
  bool paused = false;  // accept and queue events, but start no processing
  int retry_max_attempts = 5;
  unsigned retry_first_interval_ms = 1000;
  double retry_backoff_coefficient = 2.0;
  unsigned retry_max_interval_ms = 30'000;
  std::vector<WebhookConfig> webhooks;

  // The retry policy of each process_event activity.
  RetryPolicy retry() const;
};

// Also refuses a webhook without a URL or whose event filter names an unknown type.
void declare_settings(settings::Schema& schema, PipelineSettings& pipeline);

}  // namespace sluice::pipeline
