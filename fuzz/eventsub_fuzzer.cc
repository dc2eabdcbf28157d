// EventSub notifications on arbitrary bodies, as the webhook route takes them once the signature
// holds: the body parsed, its `subscription.type` and `event` mapped. Beyond not crashing: an
// event the mapping makes is either accepted by the event parser (and reads back with the
// message id as its event_id) or refused with an error code — never anything else.

#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "connectors/twitch/eventsub.h"
#include "core/clock.h"
#include "core/ids.h"
#include "pipeline/event.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  namespace json = boost::json;
  static ManualClock clock(1'700'000'000'000'000);
  static IdGenerator ids(clock, 1);
  boost::system::error_code error;
  json::value root =
      json::parse(std::string_view(reinterpret_cast<const char*>(data), size), error);
  if (error || !root.is_object()) return 0;
  const json::value* subscription = root.get_object().if_contains("subscription");
  const json::value* event = root.get_object().if_contains("event");
  if (subscription == nullptr || !subscription->is_object() || event == nullptr ||
      !event->is_object()) {
    return 0;
  }
  const json::value* type = subscription->get_object().if_contains("type");
  if (type == nullptr || !type->is_string()) return 0;
  for (auto from : {twitch::StreamIdFrom::kLogin, twitch::StreamIdFrom::kId}) {
    twitch::Mapping mapping = twitch::map_notification(
        type->get_string(), event->get_object(), "fuzz-message-1", "2026-12-07T10:00:00.5Z", from);
    if (auto* problem = std::get_if<twitch::MappingError>(&mapping)) {
      if (problem->field.rfind("event.", 0) != 0) std::abort();
      continue;
    }
    auto* mapped = std::get_if<twitch::MappedEvent>(&mapping);
    if (mapped == nullptr) continue;
    std::string text = json::serialize(mapped->event);
    auto parsed = pipeline::parse_events(text, pipeline::BodyFormat::kJson, {1}, ids);
    if (auto* refused = std::get_if<pipeline::EventError>(&parsed)) {
      if (refused->code.empty()) std::abort();
      continue;
    }
    const auto& events = std::get<pipeline::ParsedBody>(parsed).events;
    auto facts = pipeline::read_event_facts(events.at(0).json);
    if (!facts.ok() || facts->event_id != "fuzz-message-1") std::abort();
  }
  return 0;
}
