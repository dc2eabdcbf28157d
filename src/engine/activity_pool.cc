#include "engine/activity_pool.h"

#include <fmt/format.h>

#include <mutex>

#include "core/worker.h"
#include "engine/activity_effects.h"

namespace sluice::engine {
namespace {

class Context final : public ActivityContext {
 public:
  // The strings must outlive the context.
  Context(const std::string& instance_id, std::int64_t task_id, const std::string& name)
      : instance_id_(instance_id), task_id_(task_id), name_(name) {}
  const std::string& instance_id() const override { return instance_id_; }
  const std::string& activity_name() const override { return name_; }
  // Made on first use: most activities, the local ones of every event among them, never ask.
  const std::string& idempotency_key() const override {
    std::call_once(idempotency_key_made_,
                   [this] { idempotency_key_ = fmt::format("{}:{}", instance_id_, task_id_); });
    return idempotency_key_;
  }
  Effects& effects() override { return effects_; }
  storage::Mutation take_effects() { return std::move(effects_.mutation()); }

 private:
  const std::string& instance_id_;
  const std::int64_t task_id_;
  const std::string& name_;
  mutable std::once_flag idempotency_key_made_;
  mutable std::string idempotency_key_;
  ActivityEffects effects_;
};

// The history event that records an attempt's outcome. A non-empty `failure_name` records a
// failure of that name with the status's message.
HistoryEvent outcome_event(std::int64_t task_id, Result<std::string> output,
                           std::string_view failure_name) {
  HistoryEvent result{EventType::kTaskFailed, 0, task_id, "", "", 0};
  if (!failure_name.empty()) {
    result.name = failure_name;
    result.data = output.status().message();
  } else if (output.ok()) {
    result.type = EventType::kTaskCompleted;
    result.data = std::move(output).value();
  } else {
    result.name = status_code_name(output.status().code());
    result.data = output.status().message();
  }
  return result;
}

}  // namespace

HistoryEvent run_local_activity(const ActivityFunction& function, const std::string& instance_id,
                                const HistoryEvent& scheduled, Micros now,
                                storage::Mutation& effects) {
  Context context(instance_id, scheduled.task_id, scheduled.name);
  HistoryEvent result;
  try {
    result = outcome_event(scheduled.task_id, function(context, scheduled.data), {});
  } catch (const std::exception& error) {
    result = outcome_event(scheduled.task_id, internal_error(error.what()), "ActivityError");
  } catch (...) {
    result =
        outcome_event(scheduled.task_id,
                      internal_error("the activity threw something that is not a std::exception"),
                      "ActivityError");
  }
  result.timestamp = now;
  if (result.type == EventType::kTaskCompleted) effects.absorb(context.take_effects());
  return result;
}

// One attempt of one activity: alive until its outcome is handed on, however late an
// asynchronous activity delivers it.
struct ActivityPool::Attempt {
  Attempt(ActivityWork work_in, ActivityResultSink sink_in)
      : work(std::move(work_in)),
        sink(std::move(sink_in)),
        context(work.instance_id, work.task_id, work.name) {}
  ActivityWork work;
  ActivityResultSink sink;
  Context context;
  std::atomic<bool> finished{false};
};

ActivityPool::ActivityPool(const Registry& registry, const Clock& clock, unsigned workers)
    : registry_(registry), clock_(clock), gate_(std::make_shared<Gate>()) {
  workers_.start(
      "activities", [this](const std::stop_token& stop) { run(stop); }, workers);
}

ActivityPool::~ActivityPool() { stop(); }

void ActivityPool::stop() {
  workers_.stop();
  // Asynchronous attempts still out report to no one from here on: recovery redoes them.
  std::lock_guard lock(gate_->mutex);
  gate_->open = false;
}

void ActivityPool::submit(ActivityWork work, ActivityResultSink sink) {
  {
    std::lock_guard lock(mutex_);
    if (workers_.stop_requested()) return;  // recovery re-dispatches it on the next start
    queue_.emplace_back(std::move(work), std::move(sink));
  }
  ready_.notify_one();
}

void ActivityPool::finish(const std::shared_ptr<Gate>& gate,
                          const std::shared_ptr<Attempt>& attempt, const Clock& clock,
                          Result<std::string> output, std::string_view failure_name) {
  if (attempt->finished.exchange(true)) return;  // an activity that completed, then threw
  const ActivityWork& work = attempt->work;
  HistoryEvent result = outcome_event(work.task_id, std::move(output), failure_name);
  storage::Mutation effects;
  if (result.type == EventType::kTaskCompleted) effects = attempt->context.take_effects();
  // The clock and the sink belong to the engine: touched only while the pool is running.
  std::lock_guard lock(gate->mutex);
  if (!gate->open) return;
  result.timestamp = clock.now();
  attempt->sink(work.instance_id, std::move(result), std::move(effects));
}

void ActivityPool::run(const std::stop_token& stop) {
  const WakeOnStop wake_on_stop(stop, mutex_, ready_);
  while (true) {
    std::shared_ptr<Attempt> attempt;
    {
      std::unique_lock lock(mutex_);
      // Queued work is dropped on a stop: recovery runs it again.
      ready_.wait(lock, [&] { return stop.stop_requested() || !queue_.empty(); });
      if (stop.stop_requested()) return;
      attempt = std::make_shared<Attempt>(std::move(queue_.front().first),
                                          std::move(queue_.front().second));
      queue_.pop_front();
    }
    const AsyncActivityFunction* function = registry_.activity(attempt->work.name);
    if (function == nullptr) {
      finish(gate_, attempt, clock_,
             not_found(fmt::format("no activity named \"{}\" is registered", attempt->work.name)),
             "ActivityNotFound");
      continue;
    }
    try {
      (*function)(attempt->context, attempt->work.input,
                  [gate = gate_, attempt, &clock = clock_](Result<std::string> output) {
                    finish(gate, attempt, clock, std::move(output));
                  });
    } catch (const std::exception& error) {
      finish(gate_, attempt, clock_, internal_error(error.what()), "ActivityError");
    } catch (...) {
      finish(gate_, attempt, clock_,
             internal_error("the activity threw something that is not a std::exception"),
             "ActivityError");
    }
  }
}

}  // namespace sluice::engine
