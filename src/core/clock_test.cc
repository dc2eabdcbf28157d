#include "core/clock.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(ClockTest, FormatsRfc3339InUtcWithMilliseconds) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(1'795'568'523'456'789), "2026-11-25T01:02:03.456Z");
  EXPECT_EQ(format_rfc3339(1'709'164'799'999'999), "2024-02-28T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(1'709'164'800'000'000), "2024-02-29T00:00:00.000Z");  // leap day
  EXPECT_EQ(format_rfc3339(-1'000), "1969-12-31T23:59:59.999Z");
  // What it writes, it reads back.
  for (Micros time : {Micros{0}, Micros{951'782'400'123'000}, Micros{4'102'444'799'999'000}}) {
    Micros parsed = 0;
    ASSERT_TRUE(parse_rfc3339(format_rfc3339(time), parsed)) << time;
    EXPECT_EQ(parsed, time);
  }
}

TEST(ClockTest, FormatsTimesInTurnWithinAndAcrossSeconds) {
  // Each call must show its own time, whichever second the call before it formatted.
  const Micros second = 1'795'568'523'000'000;  // 2026-11-25T01:02:03Z
  EXPECT_EQ(format_rfc3339(second + 100'000), "2026-11-25T01:02:03.100Z");
  EXPECT_EQ(format_rfc3339(second + 999'999), "2026-11-25T01:02:03.999Z");
  EXPECT_EQ(format_rfc3339(second + 1'000'000), "2026-11-25T01:02:04.000Z");
  EXPECT_EQ(format_rfc3339(second + 500'000), "2026-11-25T01:02:03.500Z");
  EXPECT_EQ(format_rfc3339(second - 86'400'000'000), "2026-11-24T01:02:03.000Z");
  EXPECT_EQ(format_rfc3339(second), "2026-11-25T01:02:03.000Z");
}

TEST(ClockTest, ParsesRfc3339) {
  Micros time = 0;
  ASSERT_TRUE(parse_rfc3339("2026-11-25T01:02:03Z", time));
  EXPECT_EQ(time, 1'795'568'523'000'000);
  ASSERT_TRUE(parse_rfc3339("2026-11-25T02:02:03.5+01:00", time));
  EXPECT_EQ(time, 1'795'568'523'500'000);
  ASSERT_TRUE(parse_rfc3339("2024-02-29T00:00:00.123456789-00:30", time));
  EXPECT_EQ(time % 1'000'000, 123456);
}

TEST(ClockTest, RefusesWhatIsNotRfc3339) {
  Micros time = 0;
  for (const char* text :
       {"", "2026-11-24", "2026-11-24T01:02:03", "2026-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2026-11-24T24:00:00Z", "2026-11-24T01:02:03.Z", "2026-11-24T01:02:03Zjunk",
        "2026-11-24T01:02:03+0100", "+2026-11-24T01:02:03Z", "2026-11-24T01:02:03.1234567890Z"}) {
    EXPECT_FALSE(parse_rfc3339(text, time)) << text;
  }
}

// An offset must not carry a time out of the years a UTC RFC 3339 string can name: it would be
// stored but could never be written back in the same form.
TEST(ClockTest, RefusesTimesOutsideTheFourDigitYears) {
  Micros time = 0;
  EXPECT_FALSE(parse_rfc3339("0001-01-01T01:02:05+09:00", time));
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:00:00-01:00", time));
  ASSERT_TRUE(parse_rfc3339("0001-01-01T09:00:00+09:00", time));
  EXPECT_EQ(format_rfc3339(time), "0001-01-01T00:00:00.000Z");
  ASSERT_TRUE(parse_rfc3339("9999-12-31T22:59:59.999-01:00", time));
  EXPECT_EQ(format_rfc3339(time), "9999-12-31T23:59:59.999Z");
}

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.now(), 1000);
  clock.advance(500);
  EXPECT_EQ(clock.now(), 1500);
}

}  // namespace
}  // namespace sluice
