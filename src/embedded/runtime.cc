#include "sluice/runtime.h"

#include <condition_variable>
#include <mutex>

#include "core/clock.h"
#include "docs/document_container.h"
#include "engine/engine.h"
#include "storage/rocks/rocks_backend.h"

namespace sluice {
namespace {

class EmbeddedRuntime final : public Runtime {
 public:
  EmbeddedRuntime(std::unique_ptr<storage::RocksBackend> backend, const RuntimeOptions& options)
      : backend_(std::move(backend)),
        engine_(*backend_, clock_, registry_,
                engine::EngineOptions{.partitions = options.partitions,
                                      .activity_workers = options.activity_workers,
                                      .on_finished = [this](const engine::InstanceRecord&) {
                                        {
                                          std::lock_guard lock(mutex_);
                                          ++finished_;
                                        }
                                        finished_changed_.notify_all();
                                      }}) {}
  ~EmbeddedRuntime() override { engine_.stop(); }

  Registry& registry() override { return registry_; }
  Status start() override { return engine_.start(); }

  Status start_instance(std::string orchestrator, std::string instance_id,
                        std::string input) override {
    engine::StartRequest request;
    request.name = std::move(orchestrator);
    request.instance_id = std::move(instance_id);
    request.input = std::move(input);
    return engine_.start_instance_and_wait(std::move(request));
  }
  Status raise_event(std::string instance_id, std::string name, std::string data) override {
    return engine_.raise_event_and_wait(std::move(instance_id), std::move(name), std::move(data));
  }

  Result<std::optional<InstanceState>> instance(const std::string& instance_id) override {
    SLUICE_ASSIGN_OR_RETURN(auto record, engine_.instance(instance_id));
    if (!record) return std::optional<InstanceState>();
    return std::optional<InstanceState>(
        InstanceState{std::string(engine::runtime_status_name(record->status)), record->output});
  }

  Result<InstanceState> wait(const std::string& instance_id,
                             std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      std::uint64_t seen;
      {
        std::lock_guard lock(mutex_);
        seen = finished_;
      }
      SLUICE_ASSIGN_OR_RETURN(auto state, instance(instance_id));
      if (!state) return not_found("no instance " + instance_id);
      if (state->finished()) return *state;
      // Sleeps until some instance finishes (then looks again) or the deadline.
      std::unique_lock lock(mutex_);
      if (!finished_changed_.wait_until(lock, deadline, [&] { return finished_ != seen; })) {
        lock.unlock();
        SLUICE_ASSIGN_OR_RETURN(auto last, instance(instance_id));
        return last ? *last : *state;
      }
    }
  }

  Result<std::optional<std::string>> document(std::string_view container,
                                              std::string_view partition,
                                              std::string_view id) override {
    SLUICE_ASSIGN_OR_RETURN(const std::string key, docs::document_key(container, partition, id));
    return backend_->get(storage::Table::kDocuments, key);
  }

 private:
  SystemClock clock_;
  Registry registry_;
  std::unique_ptr<storage::RocksBackend> backend_;
  std::mutex mutex_;
  std::condition_variable finished_changed_;
  std::uint64_t finished_ = 0;  // guarded by mutex_: instances finished so far
  engine::Engine engine_;
};

}  // namespace

Result<std::unique_ptr<Runtime>> Runtime::open(RuntimeOptions options) {
  if (options.directory.empty()) return invalid_argument("directory: must not be empty");
  if (options.partitions == 0) return invalid_argument("partitions: must be at least 1");
  if (options.activity_workers == 0)
    return invalid_argument("activity_workers: must be at least 1");
  SLUICE_ASSIGN_OR_RETURN(auto backend, storage::RocksBackend::open(options.directory));
  return std::unique_ptr<Runtime>(new EmbeddedRuntime(std::move(backend), options));
}

}  // namespace sluice
