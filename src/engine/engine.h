#pragma once

// Engine: runs orchestrations durably. Instances hash to partitions (one thread each); activities
// run on a worker pool; every change is committed before anyone is told of it.
//
// Management calls are asynchronous: `reply` runs (on a partition thread; it must not block)
// once the request is durable or refused. Reads go straight to storage and block.

#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "core/ids.h"
#include "core/worker.h"
#include "engine/activity_pool.h"
#include "engine/history.h"
#include "engine/instance_record.h"
#include "engine/partition.h"
#include "storage/backend.h"

namespace sluice::engine {

struct EngineOptions {
  unsigned partitions = 2;
  unsigned activity_workers = 2;
  std::size_t max_active_instances = 100'000;  // across all partitions
  Micros retention = 0;        // finished instances are purged this long after they finish; 0: kept
  FinishListener on_finished;  // told of every instance that finishes; may be empty
};

// Which instances a query or a purge by filter covers. Empty fields match everything.
struct InstanceQuery {
  std::vector<RuntimeStatus> statuses;
  std::optional<Micros> created_from;     // inclusive
  std::optional<Micros> created_to;       // exclusive
  std::optional<Micros> finished_before;  // finished instances last updated before this
  std::string id_prefix;
  std::size_t top = 100;
  std::optional<std::string> continuation;  // from a previous page
};

struct QueryPage {
  std::vector<InstanceRecord> records;
  std::optional<std::string> continuation;  // absent on the last page
};

class Engine {
 public:
  // Every reference must outlive the engine.
  Engine(storage::Backend& backend, const Clock& clock, const Registry& registry,
         EngineOptions options);
  ~Engine();

  // Takes every partition (see take()) and sweeps: the engine of a node that has its storage to
  // itself.
  Status start();
  // Purges finished instances past their retention in the partitions that run here, every
  // minute, until stop(); when a retention period is set.
  void sweep();
  // Stops every partition; inputs still queued are answered Unavailable.
  void stop();

  // Where nodes share storage, each runs the partitions it holds. take() loads the unfinished
  // instances of `partitions` (replaying their histories, re-arming timers, re-dispatching
  // pending activities), then runs them. give_up() stops them and forgets their instances, whose
  // state is durable: whoever takes them next recovers it. Inputs for an instance whose
  // partition does not run here are answered Unavailable.
  Status take(std::span<const unsigned> partitions);
  void give_up(std::span<const unsigned> partitions);
  // The partition `instance_id` belongs to, for this engine's partition count.
  unsigned partition_of(std::string_view instance_id) const;
  bool runs(unsigned partition) const;

  // `effects` commit in the same batch as the start, and only if it succeeds (a queue consumer
  // takes its message this way). With `expected`, the start is made only if they hold.
  void start_instance(StartRequest request, Reply reply, storage::Mutation effects = {},
                      std::vector<Expectation> expected = {});
  // Commits `effects` if every expectation holds, in order with the inputs for `instance_id`
  // (which need not exist): the way to change what a start elsewhere may rest on.
  void commit_if(std::string instance_id, std::vector<Expectation> expected,
                 storage::Mutation effects, Reply reply);
  void raise_event(std::string instance_id, std::string name, std::string data, Reply reply);
  void terminate(std::string instance_id, std::string reason, Reply reply);
  void suspend(std::string instance_id, std::string reason, Reply reply);
  void resume(std::string instance_id, std::string reason, Reply reply);

  // Deletes a finished instance's record and history; refuses one that has not finished.
  void purge(std::string instance_id, Reply reply);

  // The same calls, waiting for the answer. Not for executor threads.
  Status start_instance_and_wait(StartRequest request);
  Status raise_event_and_wait(std::string instance_id, std::string name, std::string data);
  Status terminate_and_wait(std::string instance_id, std::string reason);

  // The stored record; its input only when `with_input` (read from the history, which may mean
  // one more read). Its `history` is left empty: history() reads that.
  Result<std::optional<InstanceRecord>> instance(const std::string& instance_id,
                                                 bool with_input = false);
  Result<std::vector<HistoryEvent>> history(const std::string& instance_id);
  // Instances in id order. Looks at a bounded number of records per call, so a page may be
  // short (even empty) and still carry a continuation.
  Result<QueryPage> query(const InstanceQuery& query);
  // Purges every finished instance the query matches in the partitions that run here (its `top`
  // and continuation are ignored); returns how many. Blocks.
  Result<std::size_t> purge_matching(InstanceQuery query);

  // A new instance id (a UUID) for callers that do not pick their own; one whose partition runs
  // here when any does, so that what starts under it can start on this node.
  std::string new_instance_id();

  // Purges finished instances older than the retention period in the partitions that run here;
  // returns how many. The engine runs this every minute by itself when a retention period is
  // set.
  Result<std::size_t> purge_expired();

  // Re-checks timers at once (for tests that move a manual clock).
  void wake();
  std::size_t active_instances() const;
  // Partition turns whose commit failed since start (each is tried again).
  std::uint64_t commit_failures() const;

 private:
  // Hands `input` to its instance's partition, or answers it Unavailable.
  void submit(PartitionInput input);
  void send_event(std::string instance_id, HistoryEvent event, Reply reply);

  storage::Backend& backend_;
  const Clock& clock_;
  const Registry& registry_;
  IdGenerator ids_;
  ActivityPool activities_;
  PartitionOptions partition_options_;
  // By index; null for a partition that does not run here. A partition is swapped in and out
  // under the exclusive lock and stopped outside it, so submit() never waits for a turn.
  std::vector<std::unique_ptr<Partition>> partitions_;
  mutable std::shared_mutex partitions_mutex_;
  std::uint64_t stopped_commit_failures_ = 0;  // of partitions given up; under partitions_mutex_
  const Micros retention_;
  Worker retention_sweeper_;
};

}  // namespace sluice::engine
