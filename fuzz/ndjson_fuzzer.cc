// The NDJSON splitter: arbitrary bytes as an NDJSON body. An accepted body has as many events as
// it has non-blank lines, and each reads back from its stored text.

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
  const std::string original = body;
  auto parsed = pipeline::parse_events(body, pipeline::BodyFormat::kNdjson, {100}, ids);
  if (auto* accepted = std::get_if<pipeline::ParsedBody>(&parsed)) {
    for (const auto& event : accepted->events) {
      if (!pipeline::read_event_facts(event.json).ok()) std::abort();
    }
  }
  if (body != original) std::abort();  // parsing pads the buffer, never changes the text
  return 0;
}
