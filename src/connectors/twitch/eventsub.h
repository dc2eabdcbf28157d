#pragma once

// EventSub webhook messages (the transport Twitch documents as "webhook"): the signature that
// authenticates each one, and the mapping of notifications to sluice events.
//
// A message is authentic when its Twitch-Eventsub-Message-Signature is "sha256=" and the hex
// HMAC-SHA256, keyed with the subscription's secret, of the message id, the timestamp and the raw
// body, concatenated. The mapping is a pure function of the notification: the same message sent
// again maps to the same event, whose `event_id` is the message id, so the intake queue counts it
// once.

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <variant>

namespace sluice::twitch {

// The value of Twitch-Eventsub-Message-Signature for a message.
std::string sign(std::string_view secret, std::string_view message_id, std::string_view timestamp,
                 std::string_view body);

// True when `signature` is the message's signature; compared in constant time.
bool signature_matches(std::string_view secret, std::string_view message_id,
                       std::string_view timestamp, std::string_view body,
                       std::string_view signature);

enum class StreamIdFrom { kLogin, kId };

// A notification sluice counts: the event, as POST /api/events would take it.
struct MappedEvent {
  boost::json::object event;
};
// A notification sluice acknowledges without queueing, and why.
struct NotCounted {
  std::string reason;
};
// A notification of a counted type that lacks what its event needs; `field` names the member
// of the notification's body ("event.bits").
struct MappingError {
  std::string field;
  std::string message;
};
using Mapping = std::variant<MappedEvent, NotCounted, MappingError>;

// Maps a notification of subscription `type` whose body's `event` member is `event`. `sent_at`
// is the message's RFC 3339 timestamp: the event's `occurred_at` unless the notification has a
// time of its own (a follow's `followed_at`).
Mapping map_notification(std::string_view type, const boost::json::object& event,
                         std::string_view message_id, std::string_view sent_at, StreamIdFrom from);

}  // namespace sluice::twitch
