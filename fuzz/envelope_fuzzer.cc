// open_envelope on arbitrary text, as process_event's activities read their input: anything
// that is not an envelope is refused, never a crash; an envelope that opens is made again, from
// its event and time, into one that opens to the same event.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pipeline/envelope.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::pipeline;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto envelope = open_envelope(text);
  if (!envelope) return 0;
  const std::string made = make_envelope(envelope->event_json, envelope->received_at);
  auto again = open_envelope(made);
  if (!again || again->event_json != envelope->event_json) std::abort();
  return 0;
}
