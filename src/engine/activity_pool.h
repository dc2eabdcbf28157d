#pragma once

// ActivityPool: worker threads that run activities. Each result goes back, with the attempt's
// local effects, to the partition that owns the instance, which commits it with the history.
// An asynchronous activity frees its worker at once and reports from whichever thread finishes
// it; results arriving after stop() are dropped (recovery runs those attempts again).

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/worker.h"
#include "engine/history.h"
#include "sluice/orchestration.h"
#include "storage/mutation.h"

namespace sluice::engine {

struct ActivityWork {
  std::string instance_id;
  std::int64_t task_id;
  std::string name;
  std::string input;
};

// Receives an activity's outcome: a kTaskCompleted or kTaskFailed event and, on success, the
// effects to commit with it. Called on a worker thread.
using ActivityResultSink = std::function<void(const std::string& instance_id, HistoryEvent result,
                                              storage::Mutation effects)>;

// Runs the local activity (Registry::add_local_activity) that `scheduled`, a kTaskScheduled
// event of `instance_id`, asks for, on the calling thread and without copying its input. Returns
// the kTaskCompleted or kTaskFailed event, stamped `now`; on success the attempt's effects are
// added to `effects`, on failure they are dropped.
HistoryEvent run_local_activity(const ActivityFunction& function, const std::string& instance_id,
                                const HistoryEvent& scheduled, Micros now,
                                storage::Mutation& effects);

class ActivityPool {
 public:
  // `registry` must outlive the pool.
  ActivityPool(const Registry& registry, const Clock& clock, unsigned workers);
  ~ActivityPool();  // finishes the activity each worker holds, drops the rest

  void submit(ActivityWork work, ActivityResultSink sink);
  void stop();

 private:
  struct Attempt;
  // Open while the pool runs; shared with attempts that may outlive the pool.
  struct Gate {
    std::mutex mutex;
    bool open = true;  // guarded by mutex
  };

  void run(const std::stop_token& stop);
  // Hands an attempt's outcome to its sink, once. A non-empty `failure_name` records a failure
  // of that name with the status's message.
  static void finish(const std::shared_ptr<Gate>& gate, const std::shared_ptr<Attempt>& attempt,
                     const Clock& clock, Result<std::string> output,
                     std::string_view failure_name = {});

  const Registry& registry_;
  const Clock& clock_;
  std::shared_ptr<Gate> gate_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::pair<ActivityWork, ActivityResultSink>> queue_;  // guarded by mutex_
  Worker workers_;
};

}  // namespace sluice::engine
