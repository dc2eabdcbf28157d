#include "core/logging.h"

#include <gtest/gtest.h>

#include <thread>

namespace sluice {
namespace {

TEST(LogEveryTest, LetsOneReportThroughPerIntervalAndCountsTheOthers) {
  LogEvery every(std::chrono::milliseconds(200));
  std::uint64_t held_back = 99;
  ASSERT_TRUE(every.now(held_back));
  EXPECT_EQ(held_back, 0u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(every.now(held_back));
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  ASSERT_TRUE(every.now(held_back));
  EXPECT_EQ(held_back, 5u);
  EXPECT_FALSE(every.now(held_back));
}

}  // namespace
}  // namespace sluice
