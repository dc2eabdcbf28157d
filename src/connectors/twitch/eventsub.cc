#include "connectors/twitch/eventsub.h"

#include <openssl/crypto.h>

#include <optional>

#include "core/clock.h"
#include "webhooks/webhook_sender.h"

namespace sluice::twitch {
namespace {

namespace json = boost::json;

// A member that is present and not null.
const json::value* member(const json::object& object, std::string_view key) {
  auto found = object.find(key);
  return found == object.end() || found->value().is_null() ? nullptr : &found->value();
}

std::optional<std::string_view> text(const json::object& object, std::string_view key) {
  const json::value* value = member(object, key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return std::string_view(value->get_string());
}

std::optional<std::int64_t> whole_number(const json::object& object, std::string_view key) {
  const json::value* value = member(object, key);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64() && value->get_uint64() <= INT64_MAX) {
    return static_cast<std::int64_t>(value->get_uint64());
  }
  return std::nullopt;
}

bool flag(const json::object& object, std::string_view key) {
  const json::value* value = member(object, key);
  return value != nullptr && value->is_bool() && value->get_bool();
}

MappingError missing(std::string_view field, std::string_view what) {
  return {"event." + std::string(field), std::string(what)};
}

// "500" with 2 decimal places is "5": exact, and with no more decimals than it has.
std::string decimal(std::int64_t value, std::int64_t decimal_places) {
  std::string digits = std::to_string(value);
  if (decimal_places == 0) return digits;
  const auto places = static_cast<std::size_t>(decimal_places);
  if (digits.size() <= places) digits.insert(0, places + 1 - digits.size(), '0');
  digits.insert(digits.size() - places, 1, '.');
  while (digits.back() == '0') digits.pop_back();
  if (digits.back() == '.') digits.pop_back();
  return digits;
}

// The user the notification is from, unless they chose to stay anonymous.
void add_user(const json::object& notification, json::object& event) {
  if (flag(notification, "is_anonymous")) {
    event["anonymous"] = true;
    return;
  }
  if (auto id = text(notification, "user_id")) event["user_id"] = *id;
  auto name = text(notification, "user_name");
  if (!name) name = text(notification, "user_login");
  if (name) event["user_name"] = *name;
}

// The broadcaster's login or id. Most types name it broadcaster_user_*, the charity ones
// broadcaster_*.
std::optional<std::string_view> broadcaster(const json::object& notification, StreamIdFrom from) {
  if (from == StreamIdFrom::kLogin) {
    if (auto login = text(notification, "broadcaster_user_login")) return login;
    return text(notification, "broadcaster_login");
  }
  if (auto id = text(notification, "broadcaster_user_id")) return id;
  return text(notification, "broadcaster_id");
}

// RFC 3339 at millisecond precision, as sluice writes times (Twitch's have nanoseconds), so that
// times compare as text.
std::optional<std::string> normalised_time(std::string_view time) {
  Micros parsed = 0;
  if (!parse_rfc3339(time, parsed)) return std::nullopt;
  return format_rfc3339(parsed);
}

}  // namespace

std::string sign(std::string_view secret, std::string_view message_id, std::string_view timestamp,
                 std::string_view body) {
  std::string message;
  message.reserve(message_id.size() + timestamp.size() + body.size());
  message.append(message_id).append(timestamp).append(body);
  return webhooks::sign(secret, message);
}

bool signature_matches(std::string_view secret, std::string_view message_id,
                       std::string_view timestamp, std::string_view body,
                       std::string_view signature) {
  const std::string expected = sign(secret, message_id, timestamp, body);
  return signature.size() == expected.size() &&
         CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
}

Mapping map_notification(std::string_view type, const json::object& notification,
                         std::string_view message_id, std::string_view sent_at, StreamIdFrom from) {
  json::object event;
  event["event_id"] = message_id;
  auto stream = broadcaster(notification, from);
  auto at = normalised_time(sent_at);

  if (type == "channel.follow") {
    event["type"] = "follower";
    add_user(notification, event);
    if (auto followed = text(notification, "followed_at")) {
      if (auto time = normalised_time(*followed)) at = time;
    }
  } else if (type == "channel.subscribe") {
    // Twitch sends one of these to each recipient of a gift too, beside the gift's own
    // channel.subscription.gift: counting both would count a gift twice.
    if (flag(notification, "is_gift")) {
      return NotCounted{"a gift's recipient: its channel.subscription.gift counts it"};
    }
    event["type"] = "subscription";
    add_user(notification, event);
    if (auto tier = text(notification, "tier")) event["tier"] = *tier;
    event["gifted"] = false;
  } else if (type == "channel.subscription.gift") {
    auto total = whole_number(notification, "total");
    if (!total) return missing("total", "must be a whole number");
    event["type"] = "subscription";
    add_user(notification, event);
    if (auto tier = text(notification, "tier")) event["tier"] = *tier;
    event["gifted"] = true;
    event["count"] = *total;
  } else if (type == "channel.subscription.message") {
    event["type"] = "subscription";
    add_user(notification, event);
    if (auto tier = text(notification, "tier")) event["tier"] = *tier;
    event["gifted"] = false;
    if (auto months = whole_number(notification, "cumulative_months"); months && *months > 0) {
      event["months"] = *months;
    }
    if (const json::value* message = member(notification, "message"); message != nullptr) {
      if (!message->is_object()) return missing("message", "must be an object");
      if (auto words = text(message->get_object(), "text"); words && !words->empty()) {
        event["message"] = *words;
      }
    }
  } else if (type == "channel.cheer") {
    auto bits = whole_number(notification, "bits");
    if (!bits) return missing("bits", "must be a whole number");
    event["type"] = "cheer";
    add_user(notification, event);
    event["bits"] = *bits;
    if (auto words = text(notification, "message"); words && !words->empty()) {
      event["message"] = *words;
    }
  } else if (type == "channel.charity_campaign.donate") {
    const json::value* amount = member(notification, "amount");
    if (amount == nullptr || !amount->is_object()) return missing("amount", "must be an object");
    const json::object& money = amount->get_object();
    auto value = whole_number(money, "value");
    auto places = whole_number(money, "decimal_places");
    auto currency = text(money, "currency");
    if (!value || *value <= 0) return missing("amount.value", "must be a positive whole number");
    if (!places || *places < 0 || *places > 18) {
      return missing("amount.decimal_places", "must be a whole number from 0 to 18");
    }
    if (!currency) return missing("amount.currency", "must be a string");
    event["type"] = "donation";
    add_user(notification, event);
    event["amount"] = decimal(*value, *places);
    event["currency"] = *currency;
    if (auto charity = text(notification, "charity_name")) event["charity_name"] = *charity;
  } else {
    return NotCounted{"sluice counts no events of this type"};
  }

  if (!stream) {
    return missing(from == StreamIdFrom::kLogin ? "broadcaster_user_login" : "broadcaster_user_id",
                   "must be a string");
  }
  event["stream_id"] = *stream;
  if (at) event["occurred_at"] = *at;
  event["source"] = "twitch";
  return MappedEvent{std::move(event)};
}

}  // namespace sluice::twitch
