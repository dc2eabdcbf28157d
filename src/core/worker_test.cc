#include "core/worker.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace sluice {
namespace {

TEST(WorkerTest, StopWakesEveryThreadWhereItWaitsAndReturnsOnceEachHasReturned) {
  std::mutex mutex;
  std::condition_variable never_signalled;
  std::atomic<int> waiting{0};
  std::atomic<int> returned{0};
  Worker worker;
  worker.start(
      "waiter",
      [&](const std::stop_token& stop) {
        const WakeOnStop wake_on_stop(stop, mutex, never_signalled);
        std::unique_lock lock(mutex);
        ++waiting;
        // Only the stop request can end this wait.
        never_signalled.wait(lock, [&stop] { return stop.stop_requested(); });
        ++returned;
      },
      3);
  while (waiting.load() < 3) std::this_thread::yield();
  EXPECT_FALSE(worker.stop_requested());
  worker.stop();
  EXPECT_EQ(returned.load(), 3);
  EXPECT_TRUE(worker.stop_requested());
  worker.stop();  // a second stop does nothing
}

TEST(WorkerTest, AWorkerNeverStartedStillReportsItsStop) {
  // Owners refuse new work on stop_requested(); that must hold for one that failed to start.
  Worker worker;
  worker.stop();
  EXPECT_TRUE(worker.stop_requested());
}

TEST(WorkerTest, AStoppedWorkerStartsAfreshAndNamesItsThreads) {
  Worker worker;
  worker.stop();
  std::string name(16, '\0');
  std::atomic<bool> saw_stop{true};
  std::atomic<bool> ran{false};
  worker.start("a-long-thread-name", [&](const std::stop_token& stop) {
    saw_stop = stop.stop_requested();
    pthread_getname_np(pthread_self(), name.data(), name.size());
    ran = true;
  });
  while (!ran.load()) std::this_thread::yield();
  worker.stop();
  EXPECT_FALSE(saw_stop.load());
  EXPECT_STREQ(name.c_str(), "a-long-thread-n");  // the 15 characters the kernel keeps
}

}  // namespace
}  // namespace sluice
