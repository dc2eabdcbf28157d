#pragma once

// eventually(): the one way tests wait for a condition that another thread or process brings
// about. It asks again and again, a few milliseconds apart, until the condition holds or the
// deadline passes, and says which; the deadline is a bound on a hang, never a measured duration.
//
//   ASSERT_TRUE(testing::eventually([&] { return status_of(id) == "Completed"; }))
//       << id << " did not complete";

#include <chrono>
#include <thread>

namespace sluice::testing {

template <typename Condition>
bool eventually(Condition condition,
                std::chrono::steady_clock::duration deadline = std::chrono::minutes(1)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace sluice::testing
