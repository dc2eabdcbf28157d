// The event parser on arbitrary JSON bodies. Beyond not crashing: every event it accepts must
// read back from its stored text (as stats does), with the id and stream it was accepted under.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "pipeline/event.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  static ManualClock clock(1'700'000'000'000'000);
  static IdGenerator ids(clock, 1);
  std::string body(reinterpret_cast<const char*>(data), size);
  auto parsed = pipeline::parse_events(body, pipeline::BodyFormat::kJson, {100}, ids);
  if (auto* accepted = std::get_if<pipeline::ParsedBody>(&parsed)) {
    if (accepted->events.empty()) std::abort();
    for (const auto& event : accepted->events) {
      auto facts = pipeline::read_event_facts(event.json);
      if (!facts.ok() || facts->event_id != event.event_id ||
          !pipeline::is_valid_id(facts->stream_id)) {
        std::abort();
      }
    }
  }
  return 0;
}
