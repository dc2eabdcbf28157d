#pragma once

// IntakeQueue: the durable, idempotent queue between ingest and processing.
//
// Producers append batches of messages. Appends from many callers are group-committed: one
// appender thread gathers whatever arrived meanwhile and applies it as one Mutation; a second
// thread answers each group once the disk has it. So the next group is gathered and written
// while the last one's sync runs, and one sync can cover both. A batch is all-or-nothing. A message
// whose id the queue has accepted before (ever, not only while it is queued) is not queued again
// and is reported as a duplicate.
//
// Messages are kept by partition (the one their id hashes to, as the engine's instances) and, in
// each, by lane: every open queue appends to a lane of its own, so queues opened on several nodes
// that share storage append side by side and never write the same key. A registry of lanes
// (with each lane's next sequence, written in the same commit as its messages) tells consumers
// where to look and which lanes have something new.
//
// Consumers lease messages of the partitions they run (an in-memory claim that vanishes with the
// process), then take each one inside the Mutation that records its processing, so a message is
// gone exactly when what it caused is durable. A lease that is settled without a take makes the
// message leasable again.
//
// Within a partition, messages lease in lane order, and in arrival order within a lane: with one
// writer (one node), that is arrival order, across restarts too.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/worker.h"
#include "queue/message.h"
#include "sluice/status.h"
#include "storage/backend.h"

namespace sluice::queue {

struct AppendOutcome {
  std::vector<bool> duplicate;  // per appended message, in order
  std::size_t accepted() const;
};

struct QueueStats {
  std::int64_t depth = 0;                 // messages waiting or leased
  std::optional<Micros> oldest_enqueued;  // when the oldest message arrived, if any
  std::size_t in_flight = 0;              // leased and not yet settled
  std::size_t lanes = 0;  // writers' lanes registered (open, or closed and not empty)
};

struct IntakeOptions {
  // Messages are kept by the partition their id hashes to; the engine's partition count.
  unsigned partitions = 1;
  // Appends that would take the queue beyond this many messages are refused with
  // ResourceExhausted (HTTP 503 + Retry-After), whole; duplicates never count against it. With
  // several nodes, each checks the queue's depth as storage had it up to a second ago.
  std::int64_t max_depth = INT64_MAX;
  // Whether this queue is the only one that ever appends to `name` in this storage (one node on
  // its own storage): then the lanes of earlier runs are closed when it opens, and are forgotten
  // once drained. Lanes of a node that shares storage are closed when it stops.
  bool sole_writer = true;
  // The name of this queue's writer (the node) where storage is shared, kept with its lane: once
  // that writer is gone, another node closes its lane (close_lanes_of()).
  std::string writer;
};

class IntakeQueue {
 public:
  using AppendCallback = std::function<void(Result<AppendOutcome>)>;
  // Which partitions a consumer takes messages of.
  using PartitionFilter = std::function<bool(unsigned partition)>;

  // `backend` and `clock` must outlive the queue. Messages a queue of the layout before lanes
  // left behind are moved into a lane first.
  static Result<std::unique_ptr<IntakeQueue>> open(storage::Backend& backend, const Clock& clock,
                                                   std::string name, IntakeOptions options = {});
  // Commits everything already appended, closes this queue's lane, then stops.
  ~IntakeQueue();

  IntakeQueue(const IntakeQueue&) = delete;
  IntakeQueue& operator=(const IntakeQueue&) = delete;

  const std::string& name() const { return name_; }

  // Queues `messages` as one all-or-nothing unit. `done` runs on the queue's answering thread
  // once the batch is durable (or has failed); it must not block. After stop() it runs at once
  // with Unavailable.
  void append(std::vector<NewMessage> messages, AppendCallback done);
  // append(), waiting for the outcome. Not for executor threads.
  Result<AppendOutcome> append_and_wait(std::vector<NewMessage> messages);

  // Up to `max` of the oldest messages that nobody here holds a lease on, of the partitions
  // `wanted` accepts (every partition without it), now leased to the caller. Successive calls
  // start at successive partitions, so that none waits behind another's backlog.
  Result<std::vector<Message>> lease(std::size_t max, const PartitionFilter& wanted = {});
  // Adds the removal of `message` to `mutation`; it takes effect when that mutation commits,
  // which is fenced by the message's partition unless it has a fence already.
  void take(storage::Mutation& mutation, const Message& message) const;
  // Ends leases: after their mutation committed (`taken`), or to give the messages back.
  void settle(std::span<const Position> positions, bool taken);

  Result<QueueStats> stats();
  // Messages appended and not yet taken, from memory (stats() reads storage).
  std::int64_t depth() const { return depth_.load(std::memory_order_relaxed); }

  // Commits what is pending, closes this queue's lane and refuses further appends. Idempotent.
  void stop();

  // Forgets closed lanes that hold no message any more; returns how many. Lease calls do this
  // now and then by themselves. A lane whose writer appended meanwhile is kept.
  Result<std::size_t> forget_drained_lanes();

  // Closes the open lanes of other writers that `gone` names, so that they are forgotten once
  // drained (a node killed never closes its own); returns how many. A lane whose writer appends
  // meanwhile is left open, and one that appends after its lane is closed opens it again: a
  // writer paused rather than gone loses nothing.
  Result<std::size_t> close_lanes_of(const std::function<bool(std::string_view writer)>& gone);

  // Group commits that met an id a queue on another node accepted first (so were checked again),
  // since open.
  std::uint64_t id_conflicts() const { return id_conflicts_.load(std::memory_order_relaxed); }

  // Called on the appender thread after each group that added messages is written (they can be
  // leased from then on; they are durable a moment later). Set it before appends begin; it must
  // not block.
  void set_append_listener(std::function<void()> listener) {
    append_listener_ = std::move(listener);
  }

 private:
  struct PendingAppend {
    std::vector<NewMessage> messages;
    AppendCallback done;
  };
  // A written group's answers, given once the backend's write `ticket` is durable.
  struct WrittenGroup {
    std::uint64_t ticket = 0;
    std::vector<AppendCallback> done;
    std::vector<Result<AppendOutcome>> answers;
  };
  // A lane as the registry has it.
  struct LaneEntry {
    Lane lane;
    std::uint64_t next_sequence = 0;  // every message of the lane has a lower sequence
    bool closed = false;              // its writer stopped: it gains no message any more
    std::string writer;               // IntakeOptions::writer; empty if it had none
  };
  // What this queue knows of one lane in one partition.
  struct Cursor {
    std::uint64_t lease_from = 0;  // every message below it is leased or taken
    // The lane's next sequence when a lease last found nothing past lease_from: until the lane
    // moves on, there is nothing to look for.
    std::uint64_t exhausted_at = 0;
  };

  IntakeQueue(storage::Backend& backend, const Clock& clock, std::string name,
              IntakeOptions options);
  // Moves messages of the layout before lanes into lane {0, 0}.
  Status migrate();
  // Moves messages kept by another partition count (engine.partitions changed) to their
  // partitions under this one.
  Status repartition();
  // Closes every open lane but this queue's own (IntakeOptions::sole_writer).
  Status close_other_lanes();
  Status read_depth();
  Result<std::vector<LaneEntry>> read_lanes();
  void run_appender(const std::stop_token& stop);
  WrittenGroup write_group(std::vector<PendingAppend>& group);
  void run_answerer(const std::stop_token& stop);
  // Leases from one lane of one partition into `leased`, up to `max` in all; lease_mutex_ held.
  Status lease_lane(const LaneEntry& entry, unsigned partition, std::size_t max,
                    std::vector<Message>& leased);
  std::string lane_prefix(unsigned partition, const Lane& lane) const;
  std::string message_key(const Position& position) const;
  std::string lane_key(const Lane& lane) const;
  std::string depth_key(unsigned partition) const;
  static std::string encode_lane(const LaneEntry& entry);
  void put_lane(storage::Mutation& mutation, const LaneEntry& entry) const;

  storage::Backend& backend_;
  const Clock& clock_;
  const std::string name_;
  const IntakeOptions options_;
  const Lane lane_;  // this queue's own
  // Messages appended and not yet taken, as the depth counters had it at the last look (at most
  // a second ago) plus what this queue changed since; for the bound check, which must not read
  // storage on every append.
  std::atomic<std::int64_t> depth_;
  Micros depth_read_at_ = 0;        // appender thread only
  const std::string key_prefix_;    // name·, then the layout byte
  const std::string lanes_prefix_;  // in Table::kMeta
  const std::string depth_prefix_;  // in Table::kCounters, then the partition
  const std::string count_;         // the partition count, as count_key_ holds it

  std::uint64_t next_sequence_ = 1;  // touched only by the appender thread
  // Whether storage records the partition count the messages are kept by; if not, the first
  // append records it (so that opening a fresh queue commits nothing). Appender thread only.
  bool count_recorded_ = false;
  const std::string count_key_;  // in Table::kMeta
  std::atomic<bool> lane_closed_{false};
  std::atomic<std::uint64_t> id_conflicts_{0};

  std::mutex append_mutex_;
  std::condition_variable append_ready_;
  std::vector<PendingAppend> pending_;  // guarded by append_mutex_
  std::function<void()> append_listener_;

  std::mutex answer_mutex_;
  std::condition_variable answer_ready_;
  std::deque<WrittenGroup> written_;  // guarded by answer_mutex_

  Worker appender_;
  Worker answerer_;

  std::mutex lease_mutex_;
  std::set<Position> leased_;                            // guarded by lease_mutex_
  std::map<std::pair<unsigned, Lane>, Cursor> cursors_;  // guarded by lease_mutex_
  unsigned next_partition_ = 0;                          // guarded by lease_mutex_
  std::uint64_t leases_ = 0;                             // guarded by lease_mutex_
};

}  // namespace sluice::queue
