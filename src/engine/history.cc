#include "engine/history.h"

#include "core/binary_codec.h"

namespace sluice::engine {

namespace {
constexpr std::uint8_t kFormatVersion = 1;
}

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

void encode_events(const std::vector<HistoryEvent>& events, std::string& out) {
  BinaryWriter writer(out);
  writer.byte(kFormatVersion);
  writer.varint(events.size());
  for (const auto& event : events) {
    writer.byte(static_cast<std::uint8_t>(event.type));
    writer.signed_varint(event.timestamp);
    writer.signed_varint(event.task_id);
    writer.bytes(event.name);
    writer.bytes(event.data);
    writer.signed_varint(event.fire_at);
    writer.bytes(event.instance);
  }
}

Status decode_events(std::string_view encoded, std::vector<HistoryEvent>& events) {
  BinaryReader reader(encoded);
  if (reader.byte() != kFormatVersion) return corruption("history chunk has an unknown format");
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
    event.data = reader.bytes();
    event.fire_at = reader.signed_varint();
    event.instance = reader.bytes();
    if (!reader.ok()) return corruption("history event is truncated");
    events.push_back(std::move(event));
  }
  if (!reader.at_end()) return corruption("history chunk has trailing bytes");
  return {};
}

}  // namespace sluice::engine
