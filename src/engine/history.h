#pragma once

// History: the event-sourced record of one orchestration run, stored compactly (binary,
// versioned) and turned into JSON only for the status API.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "sluice/status.h"

namespace sluice::engine {

enum class EventType : std::uint8_t {
  kExecutionStarted = 1,       // name, data = input
  kOrchestratorStarted,        // a step begins; timestamp is what ctx.now() returns during it
  kTaskScheduled,              // task_id, name, data = input
  kTaskCompleted,              // task_id, data = output
  kTaskFailed,                 // task_id, name = error code, data = message
  kTimerCreated,               // task_id, fire_at
  kTimerFired,                 // task_id, fire_at
  kEventRaised,                // name, data
  kExecutionCompleted,         // data = output
  kExecutionFailed,            // name = error code, data = message
  kExecutionTerminated,        // data = reason
  kContinuedAsNew,             // data = the next run's input
  kExecutionSuspended,         // data = reason
  kExecutionResumed,           // data = reason
  kSubOrchestrationCreated,    // task_id, name, data = input, instance = the child's id
  kSubOrchestrationCompleted,  // task_id, data = output
  kSubOrchestrationFailed,     // task_id, name = error code, data = message
};

std::string_view event_type_name(EventType type);

struct HistoryEvent {
  EventType type;
  Micros timestamp = 0;
  std::int64_t task_id = -1;
  std::string name;
  std::string data;
  Micros fire_at = 0;
  std::string instance;  // another instance this event refers to
};

// The input of the run whose history starts with `events`: its ExecutionStarted event's data.
std::string run_input(const std::vector<HistoryEvent>& events);

// Appends the encoding of `events` to `out`.
void encode_events(const std::vector<HistoryEvent>& events, std::string& out);
// Decodes a chunk written by encode_events, appending to `events`.
Status decode_events(std::string_view encoded, std::vector<HistoryEvent>& events);

}  // namespace sluice::engine
