#include "core/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace sluice {
namespace {

TEST(IdGeneratorTest, MakesVersion7Uuids) {
  ManualClock clock(1'795'568'523'456'000);
  IdGenerator ids(clock, 42);
  const std::string id = ids.next();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[14], '7');                                          // version
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant
  EXPECT_EQ(id.substr(0, 8), "01a21039");  // the clock's milliseconds: 0x01a2103958c0
}

TEST(IdGeneratorTest, IdsAreUniqueAndSortByTime) {
  ManualClock clock(1'000'000'000'000);
  IdGenerator ids(clock, 7);
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    clock.advance(1000);  // one millisecond
    std::string id = ids.next();
    EXPECT_GT(id, previous);
    EXPECT_TRUE(seen.insert(id).second);
    previous = id;
  }
}

TEST(IdGeneratorTest, SameSeedSameIds) {
  ManualClock clock(5'000'000);
  IdGenerator a(clock, 99), b(clock, 99);
  EXPECT_EQ(a.next(), b.next());
}

}  // namespace
}  // namespace sluice
