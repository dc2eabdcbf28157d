#pragma once

// Partition: owns a share of the orchestration instances (by hash of the id) and advances them.
//
// One thread per partition. Each turn it takes everything that arrived (new instances, activity
// results, timer firings, raised events, management requests), feeds each affected instance,
// and commits every resulting change — history, instance records, local effects of activities —
// as one Mutation with one fsync. Only after that commit are callers answered, activities
// dispatched and timers armed. Local activities are the exception that makes the common case
// cheap: they run inside the turn, and their results and effects are part of its commit.
// Running instances stay in memory (warm coroutine frames); history is replayed only when the
// partition loads them after a restart.

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/worker.h"
#include "engine/activity_pool.h"
#include "engine/history.h"
#include "engine/instance_record.h"
#include "engine/orchestration_runner.h"
#include "storage/backend.h"

namespace sluice::engine {

using Reply = std::function<void(Status)>;

struct StartRequest {
  std::string name;
  std::string instance_id;
  std::string input;
  bool replace_finished = false;  // a finished instance with this id is replaced, not refused
  std::string parent_id;          // for a sub-orchestration: the instance waiting for it
  std::int64_t parent_task = -1;  // and its task id there
};

// A stored value that an input rests on: the input applies only if `key` of `table` still holds
// exactly `value` when its turn comes, and no earlier input of that turn rested on the same key.
// Inputs that rest on one key are sent to one partition (by their instance_id), which orders
// them, so of two that race, one applies and the other is refused with kFailedPrecondition.
struct Expectation {
  storage::Table table;
  std::string key;
  std::string value;
};

struct PartitionInput {
  // kCommit: only `effects`, ordered with the other inputs for `instance_id`.
  enum class Kind { kStart, kEvent, kPurge, kCommit };
  Kind kind = Kind::kEvent;
  std::string instance_id;
  StartRequest start;  // kStart
  HistoryEvent event;  // kEvent
  // kEvent: an activity's local effects, committed only with its completion. kStart: what the
  // starter commits with the start (a queue consumer's take), only if the start succeeds.
  // kCommit: the whole change.
  storage::Mutation effects;
  std::vector<Expectation> expected;  // kStart, kCommit
  Reply reply;                        // may be empty
};

// Called on a partition thread once an instance's end is durable; it must not block.
using FinishListener = std::function<void(const InstanceRecord& record)>;

struct PartitionOptions {
  unsigned index = 0;  // which partition: every commit is fenced by it (Mutation::fence_by)
  std::size_t max_active_instances = 100'000;  // starts beyond this are refused, to retry later
  std::size_t max_batch_inputs = 20'000;
  FinishListener on_finished;  // may be empty
};

// Delivers an input to whichever partition owns its instance.
using Router = std::function<void(PartitionInput)>;

class Partition {
 public:
  // Every reference must outlive the partition.
  Partition(storage::Backend& backend, const Clock& clock, const Registry& registry,
            ActivityPool& activities, Router router, PartitionOptions options);
  ~Partition();

  // Before start(): loads and replays these unfinished instances.
  Status recover(const std::vector<std::string>& instance_ids);
  void start();
  // Finishes the turn in progress; inputs not yet taken are answered kUnavailable.
  void stop();

  // Thread-safe.
  void submit(PartitionInput input);
  // Re-checks timers now (after a manual clock moved).
  void wake();

  std::size_t active_instances() const;
  std::uint64_t commit_failures() const { return commit_failures_.load(); }

 private:
  static constexpr std::size_t kNoStep = static_cast<std::size_t>(-1);
  struct Instance {
    std::unique_ptr<OrchestrationRunner> runner;
    InstanceRecord record;
    std::size_t step = kNoStep;  // its Step in the turn under way, if it is touched
  };
  // What one turn changes for one instance.
  struct Step {
    Instance* instance;
    std::vector<HistoryEvent> history;  // to append
    std::uint32_t replaced_chunks = 0;  // history chunks of a previous run to delete
    bool fresh = false;                 // a new run: the history starts again at chunk 0
    bool created = false;
    unsigned local_runs = 0;  // local activities run in this step
  };

  void run(const std::stop_token& stop);
  void take_turn(std::vector<PartitionInput>& inputs);
  using Steps = std::vector<Step>;  // reserved per turn: one Step per input at most
  Step& step_for(Instance& instance, Steps& steps, Micros now);
  Status purge_instance(const std::string& id, storage::Mutation& mutation);
  // Whether every expectation holds: read from storage, and not rested on earlier this turn.
  Status check(const std::vector<Expectation>& expected,
               const std::set<std::pair<storage::Table, std::string>>& rested_on);
  // Unless it refuses, adds the start's own effects to `effects`, then what its run's local
  // activities write.
  // `stored` holds the records of instances this turn starts, read together beforehand (one
  // read instead of one per start); an id missing from it is read on its own.
  using StoredRecords = std::unordered_map<std::string_view, std::optional<std::string>>;
  Status start_instance(PartitionInput& input, const StoredRecords& stored, Steps& steps,
                        Micros now, storage::Mutation& effects);
  // The stored records of the instances `inputs` start and are not running; empty if storage
  // cannot answer now (each start then asks, and fails, on its own).
  StoredRecords read_started(const std::vector<PartitionInput>& inputs);
  // Applies one input event, records it and what the code produced in answer, and runs the
  // local activities that scheduled; their effects go into `effects`.
  void run_event(Step& step, HistoryEvent event, storage::Mutation& effects);
  // Applies one event and records it with what the code produced in answer.
  void record(Step& step, HistoryEvent event);
  // Runs the local activities scheduled in step.history[from...] and records their results.
  void run_local_activities(Step& step, std::size_t from, storage::Mutation& effects);
  void write_step(Step& step, Micros now, storage::Mutation& mutation);
  void carry_out(const std::string& id, const std::vector<PendingWork>& work);
  // The activities, timers and children that `history` scheduled and `runner` still waits on.
  static std::vector<PendingWork> work_from(const std::vector<HistoryEvent>& history,
                                            const OrchestrationRunner& runner);
  // Tells a finished sub-orchestration's parent how it ended.
  void notify_parent(const InstanceRecord& child);
  Result<std::unique_ptr<Instance>> load(const std::string& id);
  // Reads back the instances a failed commit left in doubt (unloaded_); false while storage
  // cannot answer.
  bool reload_unloaded();
  // After a failed commit or read: waits, longer each time up to two seconds, rather than spin
  // on work that cannot be saved.
  void back_off(const std::stop_token& stop);
  void collect_due_timers(std::vector<PartitionInput>& inputs, Micros now);

  storage::Backend& backend_;
  const Clock& clock_;
  const Registry& registry_;
  ActivityPool& activities_;
  const Router router_;
  unsigned failed_commits_ = 0;  // in a row; touched only by the partition thread
  const PartitionOptions options_;

  std::unordered_map<std::string, std::unique_ptr<Instance>> instances_;  // partition thread only
  // Instances of a turn whose commit failed, with that turn's time, not yet read back from
  // storage (which may hold the commit after all: its outcome can be unknown). No input is taken
  // until they are back.
  std::vector<std::pair<std::string, Micros>> unloaded_;                // partition thread only
  std::multimap<Micros, std::pair<std::string, std::int64_t>> timers_;  // partition thread only
  std::atomic<std::size_t> active_count_{0};
  std::atomic<std::uint64_t> commit_failures_{0};  // since start

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<PartitionInput> inbox_;  // guarded by mutex_
  bool woken_ = false;                 // guarded by mutex_
  Worker worker_;
};

// Storage keys of the engine's tables.
std::string history_key(std::string_view instance_id, std::uint32_t chunk);
std::string history_prefix(std::string_view instance_id);

}  // namespace sluice::engine
