#include "engine/orchestration_runner.h"

#include <fmt/format.h>
#include <openssl/evp.h>

namespace sluice::engine {

namespace {

std::string_view kind_name(EventType scheduled) {
  switch (scheduled) {
    case EventType::kTaskScheduled:
      return "activity";
    case EventType::kTimerCreated:
      return "timer";
    default:
      return "sub-orchestration";
  }
}

}  // namespace

OrchestrationRunner::OrchestrationRunner(std::string instance_id, const Registry& registry)
    : instance_id_(std::move(instance_id)), registry_(registry) {}

// Destroying the root frame destroys every frame below it; their awaiters mark their slots
// abandoned, so nothing is ever resumed into freed memory.
OrchestrationRunner::~OrchestrationRunner() = default;

std::string OrchestrationRunner::new_uuid() {
  // UUID version 5 style: SHA-1 of the instance id and a per-instance counter, so replays
  // produce the same ids in the same order.
  const std::string seed = fmt::format("{}#{}", instance_id_, uuid_counter_++);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(seed.data(), seed.size(), digest, &length, EVP_sha1(), nullptr);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);
  std::string id;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
    id += fmt::format("{:02x}", digest[i]);
  }
  return id;
}

detail::DurableAwaiter OrchestrationRunner::schedule_activity(std::string name, std::string input) {
  const std::int64_t task_id = next_task_id_++;
  auto slot = std::make_shared<detail::CompletionSlot>();
  slot->task_name = name;
  new_events_.push_back({EventType::kTaskScheduled, now_, task_id, name, input, 0});
  operations_.emplace(task_id, Operation{EventType::kTaskScheduled, std::move(name),
                                         std::move(input), 0, "", false, false, slot});
  return detail::DurableAwaiter(std::move(slot));
}

detail::DurableAwaiter OrchestrationRunner::schedule_timer(Micros fire_at) {
  const std::int64_t task_id = next_task_id_++;
  auto slot = std::make_shared<detail::CompletionSlot>();
  slot->task_name = "timer";
  new_events_.push_back({EventType::kTimerCreated, now_, task_id, "", "", fire_at});
  operations_.emplace(task_id,
                      Operation{EventType::kTimerCreated, "", "", fire_at, "", false, false, slot});
  return detail::DurableAwaiter(std::move(slot));
}

detail::DurableAwaiter OrchestrationRunner::schedule_sub_orchestration(std::string name,
                                                                       std::string instance_id,
                                                                       std::string input) {
  const std::int64_t task_id = next_task_id_++;
  // A derived id is the same on every replay, so a restarted parent finds its child again.
  if (instance_id.empty()) instance_id = fmt::format("{}:{}", instance_id_, task_id);
  auto slot = std::make_shared<detail::CompletionSlot>();
  slot->task_name = name;
  new_events_.push_back(
      {EventType::kSubOrchestrationCreated, now_, task_id, name, input, 0, instance_id});
  operations_.emplace(
      task_id, Operation{EventType::kSubOrchestrationCreated, std::move(name), std::move(input), 0,
                         std::move(instance_id), false, false, slot});
  return detail::DurableAwaiter(std::move(slot));
}

detail::DurableAwaiter OrchestrationRunner::next_event(std::string name) {
  auto slot = std::make_shared<detail::CompletionSlot>();
  slot->task_name = name;
  auto unclaimed = unclaimed_events_.find(name);
  if (unclaimed != unclaimed_events_.end() && !unclaimed->second.empty()) {
    slot->done = true;
    slot->value = std::move(unclaimed->second.front());
    unclaimed->second.pop_front();
  } else {
    waiters_[name].push_back(slot);
  }
  return detail::DurableAwaiter(std::move(slot));
}

void OrchestrationRunner::apply(const HistoryEvent& event, bool replaying) {
  replaying_ = replaying;
  if (event.type == EventType::kOrchestratorStarted) {
    now_ = event.timestamp;
    return;
  }
  if (finished()) {
    // A finished run ignores late arrivals; its own terminal event, replayed, is already known.
    if (replaying) match_recorded(event);
    return;
  }
  if (event.type == EventType::kExecutionStarted) {
    start(event);
    return;
  }
  if (event.type == EventType::kExecutionTerminated) {
    // The termination request is itself the history event; nothing new to record.
    finish(EventType::kExecutionTerminated, RuntimeStatus::kTerminated, "", event.data);
    new_events_.pop_back();
    return;
  }
  if (status_ == RuntimeStatus::kSuspended) {
    if (event.type == EventType::kExecutionResumed) {
      status_ = RuntimeStatus::kRunning;
      std::vector<HistoryEvent> held = std::move(suspended_events_);
      suspended_events_.clear();
      for (const auto& event_held : held) apply_running(event_held, replaying);
      check_finished();
    } else if (event.type == EventType::kTaskScheduled || event.type == EventType::kTimerCreated ||
               event.type == EventType::kSubOrchestrationCreated) {
      match_recorded(event);  // recorded in the step before the suspension
    } else if (event.type != EventType::kExecutionSuspended) {
      // A held result is recorded: it must not be awaited, or its work redone, a second time.
      if (auto found = operations_.find(event.task_id);
          event.task_id >= 0 && found != operations_.end()) {
        found->second.held = true;
      }
      suspended_events_.push_back(event);
    }
    return;
  }
  if (event.type == EventType::kExecutionSuspended) {
    status_ = RuntimeStatus::kSuspended;
    return;
  }
  apply_running(event, replaying);
  check_finished();
}

void OrchestrationRunner::start(const HistoryEvent& started) {
  name_ = started.name;
  input_ = started.data;
  now_ = started.timestamp;
  status_ = RuntimeStatus::kRunning;
  next_task_id_ = std::max<std::int64_t>(0, started.task_id);
  const OrchestratorFunction* function = registry_.orchestrator(name_);
  if (function == nullptr) {
    finish(EventType::kExecutionFailed, RuntimeStatus::kFailed, "OrchestratorNotFound",
           fmt::format("no orchestrator named \"{}\" is registered", name_));
    return;
  }
  try {
    root_.emplace((*function)(*this, input_));
  } catch (const std::exception& error) {
    // A registered function may do work before its coroutine begins, and throw there.
    finish(EventType::kExecutionFailed, RuntimeStatus::kFailed, "OrchestratorError", error.what());
    return;
  }
  root_->handle().promise().started = true;
  resume(root_->handle());
  check_finished();
}

void OrchestrationRunner::apply_running(const HistoryEvent& event, bool replaying) {
  switch (event.type) {
    case EventType::kTaskScheduled:
    case EventType::kTimerCreated:
    case EventType::kSubOrchestrationCreated:
    case EventType::kExecutionCompleted:
    case EventType::kExecutionFailed:
    case EventType::kContinuedAsNew:
      if (replaying) match_recorded(event);
      break;
    case EventType::kTaskCompleted:
      complete(event.task_id, false, event.data, "");
      break;
    case EventType::kTaskFailed:
      complete(event.task_id, true, event.data, event.name);
      break;
    case EventType::kTimerFired:
      complete(event.task_id, false, "", "");
      break;
    case EventType::kSubOrchestrationCompleted:
      complete(event.task_id, false, event.data, "");
      break;
    case EventType::kSubOrchestrationFailed:
      complete(event.task_id, true, event.data, event.name);
      break;
    case EventType::kEventRaised:
      deliver_event(event.name, event.data);
      break;
    default:
      break;
  }
}

void OrchestrationRunner::match_recorded(const HistoryEvent& event) {
  if (event.type == EventType::kTaskScheduled || event.type == EventType::kTimerCreated ||
      event.type == EventType::kSubOrchestrationCreated) {
    auto found = operations_.find(event.task_id);
    const std::string_view recorded_kind = kind_name(event.type);
    if (found == operations_.end() || found->second.recorded) {
      diverge(fmt::format("step {}: the history has {} \"{}\" but the code did not ask for it",
                          event.task_id, recorded_kind, event.name));
      return;
    }
    Operation& operation = found->second;
    if (operation.type != event.type || operation.name != event.name) {
      diverge(fmt::format("step {}: the history has {} \"{}\" but the code asked for {} \"{}\"",
                          event.task_id, recorded_kind, event.name, kind_name(operation.type),
                          operation.name));
      return;
    }
    operation.recorded = true;
  }
  // The code produced this event again while replaying; it is already in the history.
  for (auto it = new_events_.begin(); it != new_events_.end(); ++it) {
    if (it->type == event.type && it->task_id == event.task_id) {
      new_events_.erase(it);
      return;
    }
  }
}

void OrchestrationRunner::complete(std::int64_t task_id, bool failed, std::string value,
                                   std::string error_code) {
  auto found = operations_.find(task_id);
  if (found == operations_.end()) return;  // a duplicate delivery, or an unknown id
  std::shared_ptr<detail::CompletionSlot> slot = std::move(found->second.slot);
  operations_.erase(found);
  slot->done = true;
  slot->failed = failed;
  slot->value = std::move(value);
  slot->error_code = std::move(error_code);
  if (!slot->abandoned && slot->waiter) resume(std::exchange(slot->waiter, {}));
}

void OrchestrationRunner::deliver_event(const std::string& name, std::string data) {
  auto waiting = waiters_.find(name);
  if (waiting != waiters_.end()) {
    auto& queue = waiting->second;
    while (!queue.empty()) {
      std::shared_ptr<detail::CompletionSlot> slot = std::move(queue.front());
      queue.pop_front();
      if (slot->abandoned) continue;
      slot->done = true;
      slot->value = std::move(data);
      if (slot->waiter) resume(std::exchange(slot->waiter, {}));
      return;
    }
  }
  unclaimed_events_[name].push_back(std::move(data));
}

void OrchestrationRunner::resume(std::coroutine_handle<> waiter) { waiter.resume(); }

void OrchestrationRunner::check_finished() {
  if (finished() || !root_ || !root_->done()) return;
  try {
    std::string output = root_->result();
    if (next_input_) {
      finish(EventType::kContinuedAsNew, RuntimeStatus::kCompleted, "", *next_input_);
    } else {
      finish(EventType::kExecutionCompleted, RuntimeStatus::kCompleted, "", std::move(output));
    }
  } catch (const TaskFailedError& error) {
    finish(EventType::kExecutionFailed, RuntimeStatus::kFailed, error.code(),
           fmt::format("{} failed: {}", error.task_name(), error.what()));
  } catch (const std::exception& error) {
    finish(EventType::kExecutionFailed, RuntimeStatus::kFailed, "OrchestratorError", error.what());
  } catch (...) {
    finish(EventType::kExecutionFailed, RuntimeStatus::kFailed, "OrchestratorError",
           "the orchestrator threw something that is not a std::exception");
  }
}

void OrchestrationRunner::finish(EventType type, RuntimeStatus status, std::string error_code,
                                 std::string output) {
  status_ = status;
  output_ = output;
  new_events_.push_back({type, now_, -1, std::move(error_code), std::move(output), 0});
  operations_.clear();
  waiters_.clear();
  // Frames go last: their awaiters may still refer to slots, which stay valid (shared).
  root_.reset();
}

void OrchestrationRunner::diverge(std::string message) {
  // Whatever the code asked for beyond the history is not to be carried out.
  new_events_.clear();
  finish(EventType::kExecutionFailed, RuntimeStatus::kFailed, "NonDeterministic",
         "the orchestration no longer matches its history at " + message);
}

std::vector<HistoryEvent> OrchestrationRunner::take_new_events() {
  return std::exchange(new_events_, {});
}

std::vector<PendingWork> OrchestrationRunner::pending_work() const {
  std::vector<PendingWork> work;
  for (const auto& [task_id, operation] : operations_) {
    if (!operation.recorded || operation.held) continue;
    work.push_back({operation.type, task_id, operation.name, operation.input, operation.fire_at,
                    operation.instance});
  }
  return work;
}

}  // namespace sluice::engine
