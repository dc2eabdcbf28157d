#include "pipeline/pipeline_settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/url/parse.hpp>

#include "pipeline/event.h"

namespace sluice::pipeline {
namespace {

settings::Parser webhook_field(std::vector<WebhookConfig>& webhooks, std::string_view name,
                               std::string_view field) {
  auto webhook = [&webhooks, name = std::string(name)]() -> WebhookConfig& {
    return settings::entry_named(webhooks, name);
  };
  if (field == "url") {
    return [webhook](std::string_view value) -> Status {
      auto url = boost::urls::parse_absolute_uri(value);
      if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
        // Not echoed: a webhook URL often carries a token.
        return invalid_argument("must be an http:// or https:// URL with a host");
      }
      webhook().url = value;
      return {};
    };
  }
  if (field == "secret") {
    return [webhook](std::string_view value) -> Status {
      if (value.size() > 4096) return invalid_argument("must be at most 4096 bytes");
      webhook().secret = value;
      return {};
    };
  }
  if (field == "events") {
    return [webhook](std::string_view value) -> Status {
      std::vector<std::string> types;
      if (!settings::split_list(value, types)) {
        return invalid_argument("must list event types, as in \"donation,cheer\"");
      }
      for (const auto& type : types) {
        if (!is_event_type(type)) {
          return invalid_argument(
              fmt::format("\"{}\" is not one of follower, subscription, donation, cheer", type));
        }
      }
      webhook().event_types = std::move(types);
      return {};
    };
  }
  return [webhook](std::string_view value) -> Status {
    SLUICE_ASSIGN_OR_RETURN(const std::int64_t timeout_ms,
                            settings::whole_number(value, 1, 600'000));
    webhook().timeout_ms = static_cast<unsigned>(timeout_ms);
    return {};
  };
}

}  // namespace

RetryPolicy PipelineSettings::retry() const {
  return RetryPolicy{.max_attempts = retry_max_attempts,
                     .first_interval = Micros{retry_first_interval_ms} * 1000,
                     .backoff_coefficient = retry_backoff_coefficient,
                     .max_interval = Micros{retry_max_interval_ms} * 1000};
}

void declare_settings(settings::Schema& schema, PipelineSettings& pipeline) {
  schema.integer<std::size_t>("pipeline.max_in_flight", pipeline.max_in_flight, 1, 10'000'000,
                              "`process_event` instances running at once; the rest wait in the "
                              "queue");
  schema.boolean("pipeline.paused", pipeline.paused, "queue events without processing them");
  schema.integer("pipeline.retry.max_attempts", pipeline.retry_max_attempts, 1, 100,
                 "per activity of `process_event`");
  schema.integer("pipeline.retry.first_interval_ms", pipeline.retry_first_interval_ms, 1u,
                 86'400'000u, "wait before the second attempt");
  schema.number("pipeline.retry.backoff_coefficient", pipeline.retry_backoff_coefficient, 1.0,
                100.0, "each further wait this much longer…");
  schema.integer("pipeline.retry.max_interval_ms", pipeline.retry_max_interval_ms, 1u, 86'400'000u,
                 "…up to this");

  auto webhooks =
      schema.table("webhooks", [&pipeline](std::string_view name, std::string_view field) {
        return webhook_field(pipeline.webhooks, name, field);
      });
  webhooks.field("url", "", "`http://` or `https://` endpoint for alerts; declares webhook NAME");
  webhooks.field("secret", "", "HMAC-SHA256 key for `X-Sluice-Signature`; unsigned without")
      .secret();
  webhooks.field("events", "every type",
                 "list (or comma-separated) of follower, subscription, donation, cheer");
  webhooks.field("timeout_ms", "5000", "no 2xx within this fails the attempt");

  schema.check([&pipeline]() -> Status {
    for (const auto& webhook : pipeline.webhooks) {
      if (webhook.url.empty()) {
        return settings::error(fmt::format("webhooks.{}.url", webhook.name), "is required");
      }
    }
    return {};
  });
}

}  // namespace sluice::pipeline
