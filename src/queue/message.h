#pragma once

// Queue messages and their stored form.

#include <compare>
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

// Each queue that appends (one per process and queue) writes its own lane, so that writers on
// several nodes never contend for a key. Lanes order by when their writer opened.
struct Lane {
  Micros opened_at = 0;
  std::uint64_t nonce = 0;  // random: two writers that open in the same microsecond differ
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const Lane&) const = default;
};

// Where a message is: the partition its id hashes to (storage::partition_of), its writer's lane,
// and its order of arrival within that lane (never reused).
struct Position {
  unsigned partition = 0;
  Lane lane;
  std::uint64_t sequence = 0;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const Position&) const = default;
};

// A message in the queue, as a consumer sees it.
struct Message {
  Position position;
  std::string id;
  Micros enqueued_at = 0;
  std::string body;
};

// Stored value: version byte 1, enqueued_at (8 bytes little-endian), id length (1 byte), id, body.
std::string encode_message(const Message& message);
// `position` comes from the key; the value carries the rest.
Result<Message> decode_message(const Position& position, std::string_view stored);

}  // namespace sluice::queue
