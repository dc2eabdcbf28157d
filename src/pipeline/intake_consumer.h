#pragma once

// IntakeConsumer: drains the intake queue into process_event instances at a controlled pace.
// Each message's take commits in the same batch as its instance's start, so a message is gone
// exactly when its orchestration exists. At most `max_in_flight` instances run at once; a burst
// waits on disk, not in memory. The consumer sleeps until it is told of new messages or of room:
// it polls only where other nodes append to the same queue, and it commits only on its own
// thread, never on the engine's.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include "core/worker.h"
#include "engine/engine.h"
#include "queue/intake_queue.h"

namespace sluice::pipeline {

class IntakeConsumer {
 public:
  // Every reference must outlive the consumer. Installs itself as the queue's append listener.
  // With a `poll` interval, it also looks at the queue that often while it has room: where
  // other nodes append to the same queue, nothing tells it of their messages.
  IntakeConsumer(queue::IntakeQueue& intake, engine::Engine& engine, storage::Backend& backend,
                 std::size_t max_in_flight,
                 std::chrono::milliseconds poll = std::chrono::milliseconds(0));
  ~IntakeConsumer();

  void start();
  // Takes nothing more off the queue; starts already sent may still be answered.
  void halt();
  // Halts, then waits for the answers to every start sent (an engine that cannot commit gives
  // them when it stops, so stop the engine before this).
  void stop();

  // Tells the consumer that an instance finished, so it may have room again. Cheap unless it is
  // waiting for room; call it for every instance that finishes (EngineOptions::on_finished).
  void instance_finished();

 private:
  std::size_t room_locked() const;
  void run(const std::stop_token& stop);
  void wake();
  // Takes, in one commit, messages whose instance id turned out to exist already.
  void take_orphans(std::vector<queue::Message> orphans);

  queue::IntakeQueue& intake_;
  engine::Engine& engine_;
  storage::Backend& backend_;
  const std::size_t max_in_flight_;
  const std::chrono::milliseconds poll_;  // 0: never

  std::mutex mutex_;
  std::condition_variable ready_;
  bool woken_ = false;  // guarded by mutex_
  // Set (under mutex_) while the consumer waits for room; read without the lock by
  // instance_finished(), which then looks again under it.
  std::atomic<bool> short_of_room_{false};
  std::atomic<std::size_t> freed_{0};    // instances finished since the consumer ran short of room
  const std::size_t refill_;             // how many of those wake it
  std::size_t starting_ = 0;             // guarded by mutex_: starts sent, not yet answered
  std::vector<queue::Message> orphans_;  // guarded by mutex_: for take_orphans()
  Worker worker_;
};

}  // namespace sluice::pipeline
