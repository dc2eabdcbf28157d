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
// Consumers lease messages (an in-memory claim that vanishes with the process), then take each
// one inside the Mutation that records its processing, so a message is gone exactly when what it
// caused is durable. A lease that is settled without a take makes the message leasable again.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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
};

class IntakeQueue {
 public:
  using AppendCallback = std::function<void(Result<AppendOutcome>)>;

  // `backend` and `clock` must outlive the queue.
  // Appends that would take the queue beyond `max_depth` messages are refused with
  // ResourceExhausted (HTTP 503 + Retry-After), whole; duplicates never count against it.
  // The queue's sequence is one writer's: where several nodes share storage, its appends and
  // takes are fenced by partition `fence` (Mutation::fence_by), which the writer must hold.
  static Result<std::unique_ptr<IntakeQueue>> open(storage::Backend& backend, const Clock& clock,
                                                   std::string name,
                                                   std::int64_t max_depth = INT64_MAX,
                                                   std::optional<unsigned> fence = std::nullopt);
  // Commits everything already appended, then stops.
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

  // Up to `max` of the oldest messages that nobody holds a lease on, now leased to the caller.
  Result<std::vector<Message>> lease(std::size_t max);
  // Adds the removal of `message` to `mutation`; it takes effect when that mutation commits.
  void take(storage::Mutation& mutation, const Message& message) const;
  // Ends leases: after their mutation committed (`taken`), or to give the messages back.
  void settle(std::span<const std::uint64_t> sequences, bool taken);

  Result<QueueStats> stats();
  // Messages appended and not yet taken, from memory (stats() reads storage).
  std::int64_t depth() const { return depth_.load(std::memory_order_relaxed); }

  // Commits what is pending and refuses further appends. Idempotent.
  void stop();

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

  IntakeQueue(storage::Backend& backend, const Clock& clock, std::string name,
              std::uint64_t next_sequence, std::int64_t depth, std::int64_t max_depth,
              std::optional<unsigned> fence);
  void run_appender(const std::stop_token& stop);
  WrittenGroup write_group(std::vector<PendingAppend>& group);
  void run_answerer(const std::stop_token& stop);
  std::string message_key(std::uint64_t sequence) const;

  storage::Backend& backend_;
  const Clock& clock_;
  const std::string name_;
  const std::int64_t max_depth_;
  const std::optional<unsigned> fence_;
  // Messages appended and not yet taken, as the depth counter has it; kept in memory for the
  // bound check, which must not read storage on every append.
  std::atomic<std::int64_t> depth_;
  const std::string key_prefix_;         // name·
  const std::string next_sequence_key_;  // in Table::kMeta
  const std::string depth_key_;          // in Table::kCounters

  std::uint64_t next_sequence_;  // touched only by the appender thread after open()

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
  std::set<std::uint64_t> leased_;  // guarded by lease_mutex_
  std::uint64_t lease_from_ =
      0;  // guarded by lease_mutex_; every message below it is leased or taken
};

}  // namespace sluice::queue
