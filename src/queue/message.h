#pragma once

// Queue messages and their stored form.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "sluice/status.h"

namespace sluice::queue {

// What a producer appends: an id that makes the append idempotent, and an opaque body.
struct NewMessage {
  std::string id;    // non-empty, at most 255 bytes, no 0 byte
  std::string body;  // for the intake queue, the event's JSON text
};

// A message in the queue, as a consumer sees it.
struct Message {
  std::uint64_t sequence = 0;  // order of arrival within its queue; never reused
  std::string id;
  Micros enqueued_at = 0;
  std::string body;
};

// Stored value: version byte 1, enqueued_at (8 bytes little-endian), id length (1 byte), id, body.
std::string encode_message(const Message& message);
// `sequence` comes from the key; the value carries the rest.
Result<Message> decode_message(std::uint64_t sequence, std::string_view stored);

}  // namespace sluice::queue
