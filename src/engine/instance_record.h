#pragma once

// The stored record of one orchestration instance: what the status API shows, plus how much
// history it has.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "sluice/status.h"

namespace sluice::engine {

enum class RuntimeStatus : std::uint8_t {
  kPending = 0,
  kRunning,
  kCompleted,
  kFailed,
  kTerminated,
  kSuspended,
};

// "Running", "Completed", … as the Durable Functions status API spells them.
std::string_view runtime_status_name(RuntimeStatus status);
bool parse_runtime_status(std::string_view name, RuntimeStatus& out);
inline bool is_terminal(RuntimeStatus status) {
  return status == RuntimeStatus::kCompleted || status == RuntimeStatus::kFailed ||
         status == RuntimeStatus::kTerminated;
}

struct InstanceRecord {
  std::string instance_id;
  std::string name;
  RuntimeStatus status = RuntimeStatus::kPending;
  std::string input;          // not stored with the record: see stored_input()
  std::string output;         // result, or the failure message
  std::string custom_status;  // JSON, empty when never set
  Micros created_at = 0;
  Micros updated_at = 0;
  std::uint32_t history_chunks = 0;  // history is stored as chunks 0 … history_chunks - 1
  std::string parent_id;             // set for a sub-orchestration: who waits for it
  std::int64_t parent_task = -1;     // and as which of its tasks
  std::int64_t next_task_id = 0;     // where the next run's task ids start (see the runner)
  // With no chunks, the encoded history of a run that finished in the step that started it:
  // that run's record and history are one key. Empty in records not read from storage.
  std::string history;
};

// The record as stored, without its input: that lives in the history, in the current run's
// ExecutionStarted event, written once rather than on every step. decode_record leaves `input`
// empty (except for records stored before this was so).
std::string encode_record(const InstanceRecord& record);
Result<InstanceRecord> decode_record(std::string_view instance_id, std::string_view encoded);

}  // namespace sluice::engine
