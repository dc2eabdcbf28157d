#include "engine/activity_pool.h"

#include <fmt/format.h>

namespace sluice::engine {
namespace {

class Context final : public ActivityContext {
 public:
  explicit Context(const ActivityWork& work)
      : work_(work), idempotency_key_(fmt::format("{}:{}", work.instance_id, work.task_id)) {}
  const std::string& instance_id() const override { return work_.instance_id; }
  const std::string& activity_name() const override { return work_.name; }
  const std::string& idempotency_key() const override { return idempotency_key_; }
  storage::Mutation& effects() override { return effects_; }
  storage::Mutation take_effects() { return std::move(effects_); }

 private:
  const ActivityWork& work_;
  const std::string idempotency_key_;
  storage::Mutation effects_;
};

}  // namespace

ActivityPool::ActivityPool(const Registry& registry, const Clock& clock, unsigned workers)
    : registry_(registry), clock_(clock) {
  for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this] { run(); });
}

ActivityPool::~ActivityPool() { stop(); }

void ActivityPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ActivityPool::submit(ActivityWork work, ActivityResultSink sink) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;  // recovery re-dispatches it on the next start
    queue_.emplace_back(std::move(work), std::move(sink));
  }
  ready_.notify_one();
}

void ActivityPool::run() {
  while (true) {
    std::pair<ActivityWork, ActivityResultSink> item;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    const ActivityWork& work = item.first;
    HistoryEvent result{EventType::kTaskFailed, 0, work.task_id, "", "", 0};
    Context context(work);
    if (const ActivityFunction* function = registry_.activity(work.name)) {
      try {
        Result<std::string> output = (*function)(context, work.input);
        if (output.ok()) {
          result.type = EventType::kTaskCompleted;
          result.data = std::move(output).value();
        } else {
          result.name = status_code_name(output.status().code());
          result.data = output.status().message();
        }
      } catch (const std::exception& error) {
        result.name = "ActivityError";
        result.data = error.what();
      } catch (...) {
        result.name = "ActivityError";
        result.data = "the activity threw something that is not a std::exception";
      }
    } else {
      result.name = "ActivityNotFound";
      result.data = fmt::format("no activity named \"{}\" is registered", work.name);
    }
    result.timestamp = clock_.now();
    storage::Mutation effects;
    if (result.type == EventType::kTaskCompleted) effects = context.take_effects();
    item.second(work.instance_id, std::move(result), std::move(effects));
  }
}

}  // namespace sluice::engine
