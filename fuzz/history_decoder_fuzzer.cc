// The history and instance-record decoders on arbitrary stored bytes: they must refuse damage
// with a Status, never crash; history and records that decode must encode back to what decodes
// the same.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/history.h"
#include "engine/instance_record.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::engine;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::vector<HistoryEvent> events;
  if (decode_events(bytes, events).ok()) {
    std::string again;
    encode_events(events, again);
    std::vector<HistoryEvent> round_trip;
    if (!decode_events(again, round_trip).ok() || round_trip.size() != events.size()) std::abort();
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (round_trip[i].data != events[i].data || round_trip[i].name != events[i].name ||
          round_trip[i].task_id != events[i].task_id) {
        std::abort();
      }
    }
  }
  auto record = decode_record("fuzz", bytes);
  if (record.ok()) {
    auto again = decode_record("fuzz", encode_record(*record));
    // Records are stored without their input (it lives in the history); older ones kept it.
    if (!again.ok() || again->output != record->output || !again->input.empty() ||
        again->next_task_id != record->next_task_id) {
      std::abort();
    }
  }
  return 0;
}
