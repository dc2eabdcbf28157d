#pragma once

// IntakeConsumer: drains the intake queue into process_event instances at a controlled pace.
// Each message's take commits in the same batch as its instance's start, so a message is gone
// exactly when its orchestration exists. At most `max_in_flight` instances run at once; a burst
// waits on disk, not in memory.

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "queue/intake_queue.h"

namespace sluice::pipeline {

class IntakeConsumer {
 public:
  // Every reference must outlive the consumer. Installs itself as the queue's append listener.
  IntakeConsumer(queue::IntakeQueue& intake, engine::Engine& engine, storage::Backend& backend,
                 std::size_t max_in_flight);
  ~IntakeConsumer();

  void start();
  void stop();

 private:
  void run();
  void wake();

  queue::IntakeQueue& intake_;
  engine::Engine& engine_;
  storage::Backend& backend_;
  const std::size_t max_in_flight_;

  std::mutex mutex_;
  std::condition_variable ready_;
  bool stopping_ = false;       // guarded by mutex_
  bool woken_ = false;          // guarded by mutex_
  bool short_of_room_ = false;  // guarded by mutex_: waiting for in-flight starts to end
  std::size_t starting_ = 0;    // guarded by mutex_: starts sent, not yet answered
  std::thread thread_;
};

}  // namespace sluice::pipeline
