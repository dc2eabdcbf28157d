#include "sluice/task.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace sluice {
namespace {

// A wait that the test finishes by hand.
struct Trigger {
  std::coroutine_handle<> waiter;
  bool fired = false;
  int value = 0;
  void fire(int v) {
    fired = true;
    value = v;
    if (waiter) std::exchange(waiter, {}).resume();
  }
  auto operator co_await() {
    struct Awaiter {
      Trigger& trigger;
      bool await_ready() { return trigger.fired; }
      void await_suspend(std::coroutine_handle<> h) { trigger.waiter = h; }
      int await_resume() { return trigger.value; }
    };
    return Awaiter{*this};
  }
};

Task<int> wait_for(Trigger& trigger) { co_return co_await trigger; }

Task<int> fails(Trigger& trigger) {
  co_await trigger;
  throw std::runtime_error("boom");
}

Task<int> sum_all(std::vector<Trigger>& triggers) {
  std::vector<Task<int>> tasks;
  for (auto& trigger : triggers) tasks.push_back(wait_for(trigger));
  std::vector<int> values = co_await when_all(std::move(tasks));
  int sum = 0;
  for (int v : values) sum += v;
  co_return sum;
}

Task<int> first_failure_caught(Trigger& a, Trigger& b) {
  std::vector<Task<int>> tasks;
  tasks.push_back(fails(a));
  tasks.push_back(wait_for(b));
  try {
    co_await when_all(std::move(tasks));
  } catch (const std::runtime_error&) {
    co_return -1;
  }
  co_return 1;
}

Task<int> first_of_two(Trigger& a, Trigger& b, int& winner) {
  std::vector<Task<int>> tasks;
  tasks.push_back(wait_for(a));
  tasks.push_back(wait_for(b));
  winner = static_cast<int>(co_await when_any(tasks));
  // The loser can still be awaited.
  Task<int>& loser = tasks[winner == 0 ? 1 : 0];
  const int other = co_await loser;
  co_return tasks[winner].result() + other;
}

void start(Task<int>& task) {
  task.handle().promise().started = true;
  task.handle().resume();
}

TEST(TaskTest, WhenAllWaitsForEveryTaskInAnyOrder) {
  std::vector<Trigger> triggers(3);
  Task<int> task = sum_all(triggers);
  start(task);
  triggers[2].fire(30);
  triggers[0].fire(10);
  EXPECT_FALSE(task.done());
  triggers[1].fire(20);
  ASSERT_TRUE(task.done());
  EXPECT_EQ(task.result(), 60);
}

TEST(TaskTest, WhenAllOfNothingIsReadyAtOnce) {
  std::vector<Trigger> none;
  Task<int> task = sum_all(none);
  start(task);
  ASSERT_TRUE(task.done());
  EXPECT_EQ(task.result(), 0);
}

TEST(TaskTest, WhenAllRethrowsAfterEveryTaskFinished) {
  Trigger a, b;
  Task<int> task = first_failure_caught(a, b);
  start(task);
  a.fire(0);
  EXPECT_FALSE(task.done());  // b still running
  b.fire(0);
  ASSERT_TRUE(task.done());
  EXPECT_EQ(task.result(), -1);
}

TEST(TaskTest, WhenAnyResumesOnTheFirstAndLeavesTheRestRunning) {
  Trigger a, b;
  int winner = -1;
  Task<int> task = first_of_two(a, b, winner);
  start(task);
  b.fire(5);
  EXPECT_EQ(winner, 1);
  EXPECT_FALSE(task.done());
  a.fire(7);
  ASSERT_TRUE(task.done());
  EXPECT_EQ(task.result(), 12);
}

}  // namespace
}  // namespace sluice
