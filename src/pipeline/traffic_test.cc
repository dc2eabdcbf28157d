#include "pipeline/traffic.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/ids.h"
#include "pipeline/event.h"

namespace sluice::pipeline {
namespace {

namespace json = boost::json;

TEST(TrafficTest, EveryEventIsValidAndStreamsTakeTurns) {
  Traffic traffic("t-", "s-", 3, 7);
  ManualClock clock(0);
  IdGenerator ids(clock);
  for (int i = 0; i < 200; ++i) {
    std::string event = traffic.next();
    auto parsed = parse_events(event, BodyFormat::kJson, {}, ids);
    ASSERT_TRUE(std::holds_alternative<ParsedBody>(parsed)) << event;
    EXPECT_EQ(std::get<ParsedBody>(parsed).events[0].event_id, "t-" + std::to_string(i));
  }
  EXPECT_EQ(traffic.sent(), 200);
  ASSERT_EQ(traffic.expected().size(), 3u);
  std::int64_t events = 0;
  for (const auto& [stream, totals] : traffic.expected()) events += totals.events;
  EXPECT_EQ(events, 200);
}

TEST(TrafficTest, CompareStatsNamesEveryDifference) {
  StreamTotals want;
  want.events = 2;
  want.followers = 1;
  want.donations = 1;
  want.donation_totals["USD"] = 250;
  const json::value exact = json::parse(
      R"({"events":2,"followers":1,"subscriptions":0,"gifted_subscriptions":0,"bits":0,
          "donations":{"count":1,"totals":{"USD":"2.50"}}})");
  EXPECT_TRUE(compare_stats(want, exact).empty());
  const json::value off = json::parse(
      R"({"events":3,"followers":1,"subscriptions":0,"gifted_subscriptions":0,"bits":0,
          "donations":{"count":1,"totals":{"USD":"2.51"}}})");
  const auto differences = compare_stats(want, off);
  ASSERT_EQ(differences.size(), 2u);
  EXPECT_EQ(differences[0], "events: 3 instead of 2");
  EXPECT_EQ(differences[1], "donations.totals.USD: \"2.51\" instead of 2.50");
}

}  // namespace
}  // namespace sluice::pipeline
