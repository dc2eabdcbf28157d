#pragma once

// Orchestrations and activities: the programming model, as Durable Functions, Durable Task and
// Temporal users know it.
//
//   sluice::Task<std::string> process(sluice::OrchestrationContext& ctx, std::string event) {
//     sluice::RetryPolicy retry{.max_attempts = 5, .first_interval = 1'000'000};
//     std::vector<sluice::Task<std::string>> work;
//     for (const char* activity : {"stats", "alerts", "logging"}) {
//       work.push_back(ctx.call_activity(activity, event, retry));
//     }
//     co_await sluice::when_all(std::move(work));
//     co_return R"({"ok":true})";
//   }
//
//   registry.add_orchestrator("process_event", process);
//   registry.add_activity("stats", [](sluice::ActivityContext& ctx, std::string_view input)
//                                      -> sluice::Result<std::string> { ... });
//
// Orchestrator code is replayed from its recorded history after a restart, so it must be
// deterministic: time, ids and randomness come only from the context, and every wait goes
// through it. An orchestration whose code no longer matches its history fails with an error
// naming the step; the process carries on. Inputs and outputs are strings, JSON by convention.

#include <coroutine>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include "sluice/effects.h"
#include "sluice/status.h"
#include "sluice/task.h"

namespace sluice {

using Micros = std::int64_t;  // microseconds since the Unix epoch (UTC), or a duration

// Thrown from co_await when an activity, a timer-bounded wait or a sub-orchestration fails.
class TaskFailedError : public std::runtime_error {
 public:
  TaskFailedError(std::string task_name, std::string code, std::string message)
      : std::runtime_error(message), task_name_(std::move(task_name)), code_(std::move(code)) {}
  const std::string& task_name() const { return task_name_; }
  // The failing Status's code name ("Unavailable", "InvalidArgument", …) or "Timeout".
  const std::string& code() const { return code_; }

  // Set by call_activity when it gives up: how many attempts were made, and when the first and
  // the last began (orchestration time).
  int attempts() const { return attempts_; }
  std::int64_t first_attempt_at() const { return first_attempt_at_; }
  std::int64_t last_attempt_at() const { return last_attempt_at_; }
  void set_attempts(int attempts, std::int64_t first_at, std::int64_t last_at) {
    attempts_ = attempts;
    first_attempt_at_ = first_at;
    last_attempt_at_ = last_at;
  }

 private:
  std::string task_name_;
  std::string code_;
  int attempts_ = 1;
  std::int64_t first_attempt_at_ = 0;
  std::int64_t last_attempt_at_ = 0;
};

// How call_activity retries a failed activity. Waits between attempts are durable timers.
struct RetryPolicy {
  int max_attempts = 1;                 // 1: no retry
  Micros first_interval = 1'000'000;    // wait before the second attempt
  double backoff_coefficient = 2.0;     // each further wait is this much longer…
  Micros max_interval = 3'600'000'000;  // …but never longer than this
  std::optional<Micros> timeout;        // no new attempt this long after the first began
  // Which failures are worth another attempt. When empty, every failure but a permanent one
  // (see is_permanent_failure).
  std::function<bool(const TaskFailedError&)> should_retry;

  // The wait after failed attempt `attempt` (1-based).
  Micros delay_after(int attempt) const;
};

// True for a failure that the same attempt cannot overcome however often it is repeated: invalid
// input ("InvalidArgument"), something that does not exist ("NotFound"), an activity nobody
// registered ("ActivityNotFound"), and stored data that cannot be read ("Corruption").
bool is_permanent_failure(const TaskFailedError& failure);

namespace detail {

// Where a durable operation's outcome lands. Owned jointly by the orchestration and the
// coroutine waiting on it, so either may go first.
struct CompletionSlot {
  std::coroutine_handle<> waiter;
  bool done = false;
  bool failed = false;
  bool abandoned = false;  // the waiting coroutine was destroyed: deliver nothing to it
  std::string value;       // the result, or the failure's message
  std::string error_code;
  std::string task_name;
};

class [[nodiscard]] DurableAwaiter {
 public:
  explicit DurableAwaiter(std::shared_ptr<CompletionSlot> slot) : slot_(std::move(slot)) {}
  DurableAwaiter(DurableAwaiter&&) = default;
  ~DurableAwaiter() {
    if (slot_ && !slot_->done) {
      slot_->abandoned = true;
      slot_->waiter = {};
    }
  }
  bool await_ready() const noexcept { return slot_->done; }
  void await_suspend(std::coroutine_handle<> waiter) noexcept { slot_->waiter = waiter; }
  std::string await_resume() {
    if (slot_->failed) throw TaskFailedError(slot_->task_name, slot_->error_code, slot_->value);
    return std::move(slot_->value);
  }

 private:
  std::shared_ptr<CompletionSlot> slot_;
};

}  // namespace detail

class OrchestrationContext {
 public:
  virtual ~OrchestrationContext() = default;

  virtual const std::string& instance_id() const = 0;
  virtual const std::string& name() const = 0;
  // The time of the step being run: the same on every replay.
  virtual Micros now() const = 0;
  // A UUID that is the same on every replay of this step.
  virtual std::string new_uuid() = 0;
  // True while recorded history is being replayed (for logging that should not repeat).
  virtual bool is_replaying() const = 0;
  // JSON shown in the status as customStatus.
  virtual void set_custom_status(std::string json) = 0;
  // Ends this run when the orchestrator returns and starts the instance again with `input` and a
  // fresh history.
  virtual void continue_as_new(std::string input) = 0;

  // Runs activity `name` and returns its output; throws TaskFailedError once `retry` gives up.
  Task<std::string> call_activity(std::string name, std::string input, RetryPolicy retry = {});
  // Finishes at `fire_at` (a durable timer).
  Task<void> create_timer(Micros fire_at);
  // The data of the next event `name` raised on this instance. Events raised before anyone
  // waited are kept for the next wait.
  Task<std::string> wait_for_event(std::string name);
  // As above; throws TaskFailedError with code "Timeout" if nothing arrives by now() + timeout.
  Task<std::string> wait_for_event(std::string name, Micros timeout);
  // Runs orchestrator `name` as a child instance and returns its output; throws TaskFailedError if
  // it fails or is terminated. The child's id is `instance_id`, or derived from this instance's.
  Task<std::string> call_sub_orchestrator(std::string name, std::string input,
                                          std::string instance_id = "");

 protected:
  // One attempt of an activity; resolves with its output or its failure.
  virtual detail::DurableAwaiter schedule_activity(std::string name, std::string input) = 0;
  virtual detail::DurableAwaiter schedule_timer(Micros fire_at) = 0;
  virtual detail::DurableAwaiter next_event(std::string name) = 0;
  virtual detail::DurableAwaiter schedule_sub_orchestration(std::string name,
                                                            std::string instance_id,
                                                            std::string input) = 0;
};

class ActivityContext {
 public:
  virtual ~ActivityContext() = default;
  virtual const std::string& instance_id() const = 0;
  virtual const std::string& activity_name() const = 0;
  // Stable across retries of one call and across restarts: "INSTANCE:TASK".
  virtual const std::string& idempotency_key() const = 0;
  // Local effects: writes added here commit atomically with this attempt's completion, and only
  // if it succeeds — exactly once however often the activity runs. Outside effects (webhooks)
  // are at-least-once; use idempotency_key() with them.
  virtual Effects& effects() = 0;
};

using OrchestratorFunction = std::function<Task<std::string>(OrchestrationContext&, std::string)>;
// Why an input given to start an instance is refused: the field at fault ("" for the input as a
// whole) and what is wrong with it.
struct InputRefusal {
  std::string field;
  std::string message;
};
// Checks the input of an instance started from outside the engine (the management API) before
// anything is stored: returns the input to start it with, which may be the given one rewritten
// into the orchestrator's own form, or why it is refused.
using InputAdmission = std::function<std::variant<std::string, InputRefusal>(
    std::string_view instance_id, std::string input)>;
// An activity returns its output, or a Status that fails this attempt.
using ActivityFunction = std::function<Result<std::string>(ActivityContext&, std::string_view)>;
// Ends an asynchronous activity's attempt. Call it once, from any thread.
using ActivityDone = std::function<void(Result<std::string>)>;
// An activity that finishes later without holding a worker thread (while it waits on the
// network, say). The context and the input stay valid until `done` is called.
using AsyncActivityFunction =
    std::function<void(ActivityContext&, std::string_view input, ActivityDone done)>;

// The orchestrators and activities an engine can run, by name.
class Registry {
 public:
  // With `admission`, the management API starts instances of `name` only with inputs it admits.
  void add_orchestrator(std::string name, OrchestratorFunction function,
                        InputAdmission admission = nullptr) {
    if (admission) {
      admissions_[name] = std::move(admission);
    } else {
      admissions_.erase(name);
    }
    orchestrators_[std::move(name)] = std::move(function);
  }
  void add_activity(std::string name, ActivityFunction function) {
    local_activities_.erase(name);
    activities_[std::move(name)] = [function = std::move(function)](
                                       ActivityContext& context, std::string_view input,
                                       ActivityDone done) { done(function(context, input)); };
  }
  void add_async_activity(std::string name, AsyncActivityFunction function) {
    local_activities_.erase(name);
    activities_[std::move(name)] = std::move(function);
  }
  // A local activity runs on the partition thread, in the same turn as the step that schedules
  // it, and its result and effects commit with that turn: no worker hand-off, no second commit.
  // For short work that never blocks and whose only effects are its Effects (or are
  // at-least-once anyway). Retries, failures and history are those of any activity; after a
  // restart a pending local activity runs on the worker pool like the others.
  void add_local_activity(std::string name, ActivityFunction function) {
    add_activity(name, function);
    local_activities_[std::move(name)] = std::move(function);
  }
  const OrchestratorFunction* orchestrator(const std::string& name) const {
    auto found = orchestrators_.find(name);
    return found == orchestrators_.end() ? nullptr : &found->second;
  }
  // What checks inputs of `name` given from outside; null when any JSON is taken as it is.
  const InputAdmission* admission(std::string_view name) const {
    auto found = admissions_.find(name);
    return found == admissions_.end() ? nullptr : &found->second;
  }
  const AsyncActivityFunction* activity(const std::string& name) const {
    auto found = activities_.find(name);
    return found == activities_.end() ? nullptr : &found->second;
  }
  const ActivityFunction* local_activity(std::string_view name) const {
    auto found = local_activities_.find(name);
    return found == local_activities_.end() ? nullptr : &found->second;
  }

 private:
  std::map<std::string, OrchestratorFunction, std::less<>> orchestrators_;
  std::map<std::string, InputAdmission, std::less<>> admissions_;
  std::map<std::string, AsyncActivityFunction, std::less<>> activities_;   // sync ones wrapped
  std::map<std::string, ActivityFunction, std::less<>> local_activities_;  // also in activities_
};

}  // namespace sluice
