#pragma once

// OrchestrationRunner: one orchestration instance in memory — its coroutine frames (kept warm
// between steps) and the context its code talks to.
//
// The owner feeds it history events in order: recorded ones when replaying after a restart, new
// ones (activity results, timer firings, raised events) as they arrive. Feeding runs the
// orchestrator code until it waits again; what the code asked for in the meantime comes back from
// take_new_events() as history events to record (TaskScheduled, TimerCreated, ExecutionCompleted,
// …). Replay checks that the code asks for exactly what the history recorded; where it does not,
// the instance fails with an error naming the step.
//
// Not thread-safe: one partition thread owns a runner.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/history.h"
#include "engine/instance_record.h"
#include "sluice/orchestration.h"

namespace sluice::engine {

// Work the code is waiting on that the engine must (re)start: an activity to run or a timer to
// arm.
struct PendingWork {
  EventType type;  // kTaskScheduled, kTimerCreated or kSubOrchestrationCreated
  std::int64_t task_id;
  std::string name;   // activity name
  std::string input;  // activity input
  Micros fire_at = 0;
  std::string instance;  // the child's id, for a sub-orchestration
};

class OrchestrationRunner final : public OrchestrationContext {
 public:
  OrchestrationRunner(std::string instance_id, const Registry& registry);
  ~OrchestrationRunner() override;

  // Applies one event. `replaying` is true for events read back from stored history.
  void apply(const HistoryEvent& event, bool replaying);

  // The events the code produced since the last call, in order, to append to the history.
  std::vector<HistoryEvent> take_new_events();

  // After a replay: the activities and timers recorded as started but not yet finished.
  std::vector<PendingWork> pending_work() const;

  // True while the code waits on activity or timer `task_id`: a result for anything else is a
  // late duplicate and must change nothing.
  bool is_waiting_on(std::int64_t task_id) const {
    auto found = operations_.find(task_id);
    return found != operations_.end() && !found->second.held;
  }
  // Task ids are unique across the runs of an instance (continue-as-new, overwrite), so a late
  // result of an earlier run never lands in a later one. The next run starts numbering here.
  std::int64_t next_task_id() const { return next_task_id_; }

  RuntimeStatus status() const { return status_; }
  bool finished() const { return is_terminal(status_); }
  // Set when the run ended with continue_as_new: the next run's input.
  const std::optional<std::string>& next_input() const { return next_input_; }
  const std::string& output() const { return output_; }
  const std::string& custom_status() const { return custom_status_; }
  const std::string& input() const { return input_; }

  // OrchestrationContext
  const std::string& instance_id() const override { return instance_id_; }
  const std::string& name() const override { return name_; }
  Micros now() const override { return now_; }
  std::string new_uuid() override;
  bool is_replaying() const override { return replaying_; }
  void set_custom_status(std::string json) override { custom_status_ = std::move(json); }
  void continue_as_new(std::string input) override { next_input_ = std::move(input); }

 protected:
  detail::DurableAwaiter schedule_activity(std::string name, std::string input) override;
  detail::DurableAwaiter schedule_timer(Micros fire_at) override;
  detail::DurableAwaiter next_event(std::string name) override;
  detail::DurableAwaiter schedule_sub_orchestration(std::string name, std::string instance_id,
                                                    std::string input) override;

 private:
  struct Operation {
    EventType type;  // kTaskScheduled, kTimerCreated or kSubOrchestrationCreated
    std::string name;
    std::string input;
    Micros fire_at = 0;
    std::string instance;
    bool recorded = false;  // its scheduling event is in the stored history
    bool held = false;      // its result arrived while suspended and awaits the resume
    std::shared_ptr<detail::CompletionSlot> slot;
  };

  void start(const HistoryEvent& started);
  void apply_running(const HistoryEvent& event, bool replaying);
  void complete(std::int64_t task_id, bool failed, std::string value, std::string error_code);
  void deliver_event(const std::string& name, std::string data);
  void match_recorded(const HistoryEvent& event);
  void check_finished();
  void finish(EventType type, RuntimeStatus status, std::string error_code, std::string output);
  void diverge(std::string message);
  void resume(std::coroutine_handle<> waiter);

  const std::string instance_id_;
  const Registry& registry_;
  std::string name_;
  std::string input_;
  RuntimeStatus status_ = RuntimeStatus::kPending;
  Micros now_ = 0;
  bool replaying_ = false;
  std::uint64_t uuid_counter_ = 0;

  std::optional<Task<std::string>> root_;
  std::int64_t next_task_id_ = 0;
  std::map<std::int64_t, Operation> operations_;  // started and not yet finished
  std::unordered_map<std::string, std::deque<std::shared_ptr<detail::CompletionSlot>>> waiters_;
  std::unordered_map<std::string, std::deque<std::string>> unclaimed_events_;
  std::vector<HistoryEvent> suspended_events_;  // arrived while suspended; applied on resume

  std::vector<HistoryEvent> new_events_;
  std::optional<std::string> next_input_;
  std::string output_;
  std::string custom_status_;
};

}  // namespace sluice::engine
