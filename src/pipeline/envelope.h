#pragma once

// The envelope: what a process_event instance takes as input — the event as ingest accepted it
// and when it was received:
//   {"received_at":"2026-11-24T06:43:46.123Z","event":{…}}

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace sluice::pipeline {

struct Envelope {
  std::string_view event_json;  // points into the envelope's text
  Micros received_at = 0;
};

std::string make_envelope(std::string_view event_json, Micros received_at);

// Reads an envelope exactly as make_envelope writes it, without parsing the event (so once per
// activity costs a few comparisons, not a JSON parse); absent for any other text. The event is
// not checked: read it with read_event_facts, which refuses one that is not valid.
std::optional<Envelope> open_envelope(std::string_view text);

}  // namespace sluice::pipeline
