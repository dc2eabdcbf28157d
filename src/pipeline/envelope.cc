#include "pipeline/envelope.h"

#include <fmt/format.h>

namespace sluice::pipeline {

namespace {
constexpr std::string_view kHead = R"({"received_at":")";
constexpr std::string_view kMiddle = R"(","event":)";
}  // namespace

std::string make_envelope(std::string_view event_json, Micros received_at) {
  return fmt::format("{}{}{}{}}}", kHead, format_rfc3339(received_at), kMiddle, event_json);
}

std::optional<Envelope> open_envelope(std::string_view text) {
  if (!text.starts_with(kHead) || !text.ends_with('}')) return std::nullopt;
  const std::size_t quote = text.find('"', kHead.size());
  if (quote == std::string_view::npos || !text.substr(quote).starts_with(kMiddle)) {
    return std::nullopt;
  }
  Envelope envelope;
  if (!parse_rfc3339(text.substr(kHead.size(), quote - kHead.size()), envelope.received_at)) {
    return std::nullopt;
  }
  const std::size_t event = quote + kMiddle.size();
  envelope.event_json = text.substr(event, text.size() - 1 - event);
  return envelope;
}

}  // namespace sluice::pipeline
