#include "engine/history.h"

#include <gtest/gtest.h>

#include "core/binary_codec.h"
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

TEST(HistoryTest, DataRepeatedWithinAChunkIsStoredOnce) {
  const std::string input(500, 'x');
  std::vector<HistoryEvent> events = {{EventType::kExecutionStarted, 1, -1, "process", input, 0}};
  for (const char* activity : {"stats", "alerts", "logging"}) {
    events.push_back({EventType::kTaskScheduled, 2, 0, activity, input, 0});
  }
  std::string encoded;
  encode_events(events, encoded);
  EXPECT_LT(encoded.size(), 600u);
  std::vector<HistoryEvent> decoded;
  ASSERT_TRUE(decode_events(encoded, decoded).ok());
  ASSERT_EQ(decoded.size(), 4u);
  for (const auto& event : decoded) EXPECT_EQ(event.data, input);
  // Appending to events already decoded: references stay within the chunk.
  ASSERT_TRUE(decode_events(encoded, decoded).ok());
  EXPECT_EQ(decoded.back().data, input);
}

TEST(HistoryTest, ChunksWrittenBeforeReferencesStillDecode) {
  std::string chunk;
  BinaryWriter writer(chunk);
  writer.byte(1);  // format version 1: every event's data in full
  writer.varint(2);
  for (const char* name : {"stats", "alerts"}) {
    writer.byte(static_cast<std::uint8_t>(EventType::kTaskScheduled));
    writer.signed_varint(7);
    writer.signed_varint(0);
    writer.bytes(name);
    writer.bytes("input");
    writer.signed_varint(0);
    writer.bytes("");
  }
  std::vector<HistoryEvent> decoded;
  ASSERT_TRUE(decode_events(chunk, decoded).ok());
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_EQ(decoded[1].name, "alerts");
  EXPECT_EQ(decoded[1].data, "input");
}

TEST(HistoryTest, AReferenceOutsideItsChunkIsCorruption) {
  std::string chunk;
  BinaryWriter writer(chunk);
  writer.byte(2);
  writer.varint(1);
  writer.byte(static_cast<std::uint8_t>(EventType::kTaskScheduled));
  writer.signed_varint(7);
  writer.signed_varint(0);
  writer.bytes("stats");
  writer.varint(1);  // "the data of the event before", and there is none
  writer.signed_varint(0);
  writer.bytes("");
  std::vector<HistoryEvent> decoded = {{EventType::kExecutionStarted, 1, -1, "p", "in", 0}};
  EXPECT_EQ(decode_events(chunk, decoded).code(), StatusCode::kCorruption);
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

TEST(InstanceRecordTest, TheInputStaysInTheHistoryButOldRecordsKeepTheirs) {
  InstanceRecord record{
      "i1", "process", RuntimeStatus::kRunning, std::string(300, 'x'), "", "", 10, 20, 1, "", -1};
  const std::string encoded = encode_record(record);
  EXPECT_LT(encoded.size(), 50u);
  EXPECT_EQ(decode_record("i1", encoded)->input, "");
  EXPECT_EQ(run_input({{EventType::kOrchestratorStarted, 1, -1, "", "", 0},
                       {EventType::kExecutionStarted, 1, 0, "process", "the input", 0}}),
            "the input");

  std::string version_1;  // as stored before: the input after the status
  BinaryWriter writer(version_1);
  writer.byte(1);
  writer.bytes("process");
  writer.byte(static_cast<std::uint8_t>(RuntimeStatus::kCompleted));
  writer.bytes("old input");
  writer.bytes("out");
  writer.bytes("");
  writer.signed_varint(10);
  writer.signed_varint(20);
  writer.varint(2);
  writer.bytes("");
  writer.signed_varint(-1);
  writer.signed_varint(3);
  auto old = decode_record("i0", version_1);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->input, "old input");
  EXPECT_EQ(old->output, "out");
  EXPECT_EQ(old->next_task_id, 3);

  std::string version_2 = version_1;  // as stored before: no history after the task id
  version_2.erase(version_2.begin() + 10, version_2.begin() + 20);  // the input
  version_2[0] = 2;
  auto without_history = decode_record("i0", version_2);
  ASSERT_TRUE(without_history.ok()) << without_history.status().to_string();
  EXPECT_EQ(without_history->input, "");
  EXPECT_EQ(without_history->history_chunks, 2u);
  EXPECT_EQ(without_history->history, "");
  EXPECT_EQ(without_history->next_task_id, 3);
}

TEST(InstanceRecordTest, ARunFinishedInOneStepKeepsItsHistoryInTheRecord) {
  InstanceRecord record;
  record.name = "process";
  record.status = RuntimeStatus::kCompleted;
  record.output = "done";
  record.next_task_id = 3;
  encode_events({{EventType::kOrchestratorStarted, 1, -1, "", "", 0},
                 {EventType::kExecutionStarted, 1, 0, "process", "the input", 0},
                 {EventType::kExecutionCompleted, 1, -1, "", "done", 0}},
                record.history);
  auto decoded = decode_record("i1", encode_record(record));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->history_chunks, 0u);
  std::vector<HistoryEvent> events;
  ASSERT_TRUE(decode_events(decoded->history, events).ok());
  EXPECT_EQ(run_input(events), "the input");
  EXPECT_EQ(decoded->output, "done");
  EXPECT_EQ(decoded->next_task_id, 3);
}

}  // namespace
}  // namespace sluice::engine
