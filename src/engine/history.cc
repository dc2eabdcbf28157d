#include "engine/history.h"

#include "core/binary_codec.h"

namespace sluice::engine {

namespace {
// Version 1 stored every event's data in full. Version 2 stores data equal to an earlier event's
// in the same chunk as a reference to it: an orchestration that passes its input on to its
// activities (process_event hands the event to three) writes it once, not four times.
constexpr std::uint8_t kFormatVersion = 2;
constexpr std::uint8_t kFormatVersionWithoutReferences = 1;
// How far back a chunk looks for equal data; keeps encoding linear in the chunk's size.
constexpr std::size_t kReferenceWindow = 8;
}  // namespace

std::string_view event_type_name(EventType type) {
  switch (type) {
    case EventType::kExecutionStarted:
      return "ExecutionStarted";
    case EventType::kOrchestratorStarted:
      return "OrchestratorStarted";
    case EventType::kTaskScheduled:
      return "TaskScheduled";
    case EventType::kTaskCompleted:
      return "TaskCompleted";
    case EventType::kTaskFailed:
      return "TaskFailed";
    case EventType::kTimerCreated:
      return "TimerCreated";
    case EventType::kTimerFired:
      return "TimerFired";
    case EventType::kEventRaised:
      return "EventRaised";
    case EventType::kExecutionCompleted:
      return "ExecutionCompleted";
    case EventType::kExecutionFailed:
      return "ExecutionFailed";
    case EventType::kExecutionTerminated:
      return "ExecutionTerminated";
    case EventType::kContinuedAsNew:
      return "ContinuedAsNew";
    case EventType::kExecutionSuspended:
      return "ExecutionSuspended";
    case EventType::kExecutionResumed:
      return "ExecutionResumed";
    case EventType::kSubOrchestrationCreated:
      return "SubOrchestrationInstanceCreated";
    case EventType::kSubOrchestrationCompleted:
      return "SubOrchestrationInstanceCompleted";
    case EventType::kSubOrchestrationFailed:
      return "SubOrchestrationInstanceFailed";
  }
  return "Unknown";
}

std::string run_input(const std::vector<HistoryEvent>& events) {
  for (const auto& event : events) {
    if (event.type == EventType::kExecutionStarted) return event.data;
  }
  return {};
}

void encode_events(const std::vector<HistoryEvent>& events, std::string& out) {
  BinaryWriter writer(out);
  writer.byte(kFormatVersion);
  writer.varint(events.size());
  for (const auto& event : events) {
    writer.byte(static_cast<std::uint8_t>(event.type));
    writer.signed_varint(event.timestamp);
    writer.signed_varint(event.task_id);
    writer.bytes(event.name);
    // 0 and the bytes, or k: the same data as the event k places back.
    std::size_t reference = 0;
    const std::size_t index = static_cast<std::size_t>(&event - events.data());
    for (std::size_t back = 1; back <= std::min(index, kReferenceWindow) && !event.data.empty();
         ++back) {
      if (events[index - back].data == event.data) {
        reference = back;
        break;
      }
    }
    writer.varint(reference);
    if (reference == 0) writer.bytes(event.data);
    writer.signed_varint(event.fire_at);
    writer.bytes(event.instance);
  }
}

Status decode_events(std::string_view encoded, std::vector<HistoryEvent>& events) {
  BinaryReader reader(encoded);
  const std::uint8_t version = reader.byte();
  if (version != kFormatVersion && version != kFormatVersionWithoutReferences) {
    return corruption("history chunk has an unknown format");
  }
  const std::size_t first = events.size();
  // References copy data; a damaged chunk must not make them copy without bound.
  const std::size_t max_decoded = std::max<std::size_t>(256 * encoded.size(), 1 << 20);
  std::size_t decoded = 0;
  const std::uint64_t count = reader.varint();
  if (!reader.ok() || count > encoded.size()) return corruption("history chunk is damaged");
  for (std::uint64_t i = 0; i < count; ++i) {
    HistoryEvent event;
    const std::uint8_t type = reader.byte();
    if (type < static_cast<std::uint8_t>(EventType::kExecutionStarted) ||
        type > static_cast<std::uint8_t>(EventType::kSubOrchestrationFailed)) {
      return corruption("history event has an unknown type");
    }
    event.type = static_cast<EventType>(type);
    event.timestamp = reader.signed_varint();
    event.task_id = reader.signed_varint();
    event.name = reader.bytes();
    const std::uint64_t reference = version == kFormatVersion ? reader.varint() : 0;
    if (reference == 0) {
      event.data = reader.bytes();
    } else if (reference <= std::min<std::uint64_t>(i, kReferenceWindow) &&
               (decoded += events[first + i - reference].data.size()) <= max_decoded) {
      event.data = events[first + i - reference].data;
    } else {
      return corruption("history event refers to data it cannot (outside its chunk, or too much)");
    }
    event.fire_at = reader.signed_varint();
    event.instance = reader.bytes();
    if (!reader.ok()) return corruption("history event is truncated");
    events.push_back(std::move(event));
  }
  if (!reader.at_end()) return corruption("history chunk has trailing bytes");
  return {};
}

}  // namespace sluice::engine
