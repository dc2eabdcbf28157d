#pragma once

// The stream-event schema (DESIGN §5) and the parser that checks ingest bodies against it.
//
// A body is one JSON object, a JSON array of objects, or NDJSON (one object per line). Every
// event is checked in full before any is accepted, so a batch is all-or-nothing. An accepted
// event is kept as its compact JSON text, unknown fields included; an event without an
// `event_id` gets a generated one, written into the stored text.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/ids.h"
#include "sluice/status.h"

namespace sluice::pipeline {

enum class BodyFormat { kJson, kNdjson };

// Why a body was refused. `code` is stable and machine-readable; `field` names the offending
// field ("" when the problem is not one field); `index` is the event's position in a batch.
struct EventError {
  std::string code;  // malformed_json, invalid_event, missing_field, invalid_field, empty_batch,
                     // batch_too_large
  std::string message;
  std::string field;
  std::optional<std::size_t> index;
};

struct ParsedEvent {
  std::string event_id;
  std::string json;  // compact JSON text of the whole event, including event_id
};

struct ParsedBody {
  bool single = false;  // the body was one JSON object rather than a batch
  std::vector<ParsedEvent> events;
};

struct ParseOptions {
  std::size_t max_events = 10000;
  // When set, an event without an `event_id` takes "BASE-INDEX" (its index in the body) instead
  // of a generated id, so that reading the same body again yields the same ids: a source that
  // may deliver a body twice (an Azure queue message) names it so. It must make valid ids.
  std::string_view derived_id_base;
};

// Parses and validates `body`. Appends padding to `body`'s capacity for the SIMD parser (its
// contents are unchanged). Thread-safe: each thread uses its own parser state.
std::variant<ParsedBody, EventError> parse_events(std::string& body, BodyFormat format,
                                                  const ParseOptions& options, IdGenerator& ids);

// True for follower, subscription, donation and cheer.
bool is_event_type(std::string_view type);

// True for 1–128 characters of [A-Za-z0-9._:-], the rule for event and stream ids.
bool is_valid_id(std::string_view id);

// What stats needs of an accepted event, read back from its stored JSON.
struct EventFacts {
  std::string event_id;
  std::string stream_id;
  std::string type;
  std::string currency;           // donation
  std::int64_t amount_minor = 0;  // donation, in the currency's minor unit
  std::int64_t bits = 0;          // cheer
  bool gifted = false;            // subscription
  std::int64_t count = 1;         // subscription: how many one gift gave
  std::optional<std::string> occurred_at;
};

// Reads an event that parse_events accepted. Corruption if it no longer parses.
Result<EventFacts> read_event_facts(std::string_view json);

}  // namespace sluice::pipeline
