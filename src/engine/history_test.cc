#include "engine/history.h"

#include <gtest/gtest.h>

#include "engine/instance_record.h"

namespace sluice::engine {
namespace {

TEST(HistoryTest, EventsRoundTrip) {
  std::vector<HistoryEvent> events = {
      {EventType::kExecutionStarted, 1, -1, "process", R"({"a":1})", 0},
      {EventType::kTaskScheduled, 2, 0, "stats", "in", 0},
      {EventType::kTimerCreated, 3, 1, "", "", 1'700'000'000'000'000},
      {EventType::kTaskFailed, 4, 0, "Unavailable", std::string("bytes\0inside", 12), 0},
      {EventType::kSubOrchestrationCreated, 5, 2, "child", "in", 0, "parent:2"},
  };
  std::string encoded;
  encode_events(events, encoded);
  std::vector<HistoryEvent> decoded;
  ASSERT_TRUE(decode_events(encoded, decoded).ok());
  ASSERT_EQ(decoded.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(decoded[i].type, events[i].type);
    EXPECT_EQ(decoded[i].timestamp, events[i].timestamp);
    EXPECT_EQ(decoded[i].task_id, events[i].task_id);
    EXPECT_EQ(decoded[i].name, events[i].name);
    EXPECT_EQ(decoded[i].data, events[i].data);
    EXPECT_EQ(decoded[i].fire_at, events[i].fire_at);
    EXPECT_EQ(decoded[i].instance, events[i].instance);
  }
}

TEST(HistoryTest, DamagedChunksAreCorruptionNotCrashes) {
  std::string encoded;
  encode_events({{EventType::kTaskCompleted, 5, 3, "", "output", 0}}, encoded);
  for (size_t cut = 0; cut < encoded.size(); ++cut) {
    std::vector<HistoryEvent> decoded;
    EXPECT_EQ(decode_events(encoded.substr(0, cut), decoded).code(), StatusCode::kCorruption)
        << cut;
  }
  std::string wrong_type = encoded;
  wrong_type[2] = 99;
  std::vector<HistoryEvent> decoded;
  EXPECT_EQ(decode_events(wrong_type, decoded).code(), StatusCode::kCorruption);
}

TEST(InstanceRecordTest, RoundTripsAndRejectsDamage) {
  InstanceRecord record{
      "i1", "process", RuntimeStatus::kFailed, "in", "out", R"({"s":1})", 10, 20, 3, "p1", 4};
  auto decoded = decode_record("i1", encode_record(record));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->name, "process");
  EXPECT_EQ(decoded->status, RuntimeStatus::kFailed);
  EXPECT_EQ(decoded->history_chunks, 3u);
  EXPECT_EQ(decoded->parent_id, "p1");
  EXPECT_EQ(decoded->parent_task, 4);
  EXPECT_FALSE(decode_record("i1", encode_record(record) + "x").ok());
  EXPECT_EQ(runtime_status_name(RuntimeStatus::kRunning), "Running");
  RuntimeStatus parsed;
  EXPECT_TRUE(parse_runtime_status("Terminated", parsed));
  EXPECT_EQ(parsed, RuntimeStatus::kTerminated);
}

}  // namespace
}  // namespace sluice::engine
