// The stream-events pipeline end to end, against the real binary: events posted over HTTP are
// taken off the queue, processed by process_event, and counted exactly once — across duplicates
// and SIGKILL.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "http/client.h"
#include "pipeline/traffic.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;

json::value get_json(http::Client& client, const std::string& target,
                     unsigned expected_status = 200) {
  auto response = client.get(target);
  EXPECT_TRUE(response.ok());
  if (!response.ok()) return nullptr;
  EXPECT_EQ(response->status, expected_status) << target << " → " << response->body;
  return json::parse(response->body);
}

// Waits until the queue is empty and no instance is running.
void wait_drained(http::Client& client) {
  const bool drained = testing::eventually(
      [&] {
        const json::value queue = get_json(client, "/api/queue");
        const json::value running = get_json(
            client, "/runtime/webhooks/durabletask/instances?runtimeStatus=Pending,Running&top=1");
        return queue.at("depth") == 0 && running.as_array().empty();
      },
      std::chrono::minutes(3));
  EXPECT_TRUE(drained) << "the pipeline did not drain";
}

void expect_stats(http::Client& client,
                  const std::map<std::string, pipeline::StreamTotals>& expected) {
  for (const auto& [stream, want] : expected) {
    const auto differences =
        pipeline::compare_stats(want, get_json(client, "/api/streams/" + stream + "/stats"));
    EXPECT_TRUE(differences.empty()) << stream << ": " << differences.front();
  }
}

class PipelineTest : public ::testing::Test {
 protected:
  void start() {
    client_.reset();
    server_.reset();
    server_ = std::make_unique<testing::ServerProcess>(data_.str());
    ASSERT_TRUE(server_->started()) << server_->log();
    client_ = std::move(http::Client::create(server_->url()).value());
  }
  void SetUp() override { start(); }

  testing::TempDirectory data_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(PipelineTest, MixedTrafficIsCountedExactlyAndListed) {
  pipeline::Traffic traffic("ev-", "stream-", 12, std::random_device{}());
  for (int batch = 0; batch < 10; ++batch) {
    std::string body;
    for (int i = 0; i < 150; ++i) body += traffic.next() + "\n";
    auto response = client_->post("/api/events", body, "application/x-ndjson");
    ASSERT_TRUE(response.ok());
    ASSERT_EQ(response->status, 202u) << response->body;
  }
  for (int i = 0; i < 30; ++i) {  // and single events
    ASSERT_EQ(client_->post("/api/events", traffic.next())->status, 202u);
  }
  wait_drained(*client_);
  expect_stats(*client_, traffic.expected());

  // Every instance Completed; none failed.
  EXPECT_TRUE(get_json(*client_, "/runtime/webhooks/durabletask/instances?runtimeStatus=Failed")
                  .as_array()
                  .empty());
  EXPECT_EQ(get_json(*client_, "/runtime/webhooks/durabletask/instances/ev-7").at("runtimeStatus"),
            "Completed");

  // Each stream's events, newest first, page by page; filtered by type.
  const auto& [stream, want] = *traffic.expected().begin();
  std::int64_t listed = 0;
  std::string cursor;
  std::string previous_received = "9";
  for (int page = 0; page < 100; ++page) {
    const json::value events = get_json(*client_, "/api/streams/" + stream + "/events?limit=17" +
                                                      (cursor.empty() ? "" : "&cursor=" + cursor));
    for (const auto& item : events.at("items").as_array()) {
      EXPECT_LE(std::string(item.at("received_at").as_string()), previous_received);
      previous_received = item.at("received_at").as_string();
      ++listed;
    }
    if (events.at("next_cursor").is_null()) break;
    cursor = events.at("next_cursor").as_string();
  }
  EXPECT_EQ(listed, want.events);
  const json::value cheers =
      get_json(*client_, "/api/streams/" + stream + "/events?type=cheer&limit=1000");
  for (const auto& item : cheers.at("items").as_array()) {
    EXPECT_EQ(item.at("event").at("type"), "cheer");
  }
  EXPECT_EQ(get_json(*client_, "/api/streams/nobody/stats", 404).at("error").at("code"),
            "not_found");
  EXPECT_EQ(get_json(*client_, "/api/streams/s1/events?limit=0", 400).at("error").at("field"),
            "limit");
  EXPECT_EQ(get_json(*client_, "/api/streams/s%201/stats", 400).at("error").at("field"),
            "stream_id");
}

TEST_F(PipelineTest, AnEventPostedTwiceOrAfterCompletionCountsOnce) {
  const std::string event =
      R"({"event_id":"once","stream_id":"dup","type":"donation","amount":"2.50","currency":"USD"})";
  ASSERT_EQ(client_->post("/api/events", event)->status, 202u);
  ASSERT_EQ(client_->post("/api/events", event)->status, 202u);
  wait_drained(*client_);
  ASSERT_EQ(client_->post("/api/events", event)->status, 202u);  // after it completed
  wait_drained(*client_);
  const json::value stats = get_json(*client_, "/api/streams/dup/stats");
  EXPECT_EQ(stats.at("events"), 1);
  EXPECT_EQ(stats.at("donations").at("totals").at("USD"), "2.50");
}

TEST_F(PipelineTest, WaitAnswersOnceProcessingHasFinished) {
  auto single = client_->post("/api/events?wait=30",
                              R"({"event_id":"w-1","stream_id":"wait","type":"cheer","bits":7})");
  ASSERT_TRUE(single.ok());
  ASSERT_EQ(single->status, 200u) << single->body;
  const json::value status = json::parse(single->body);
  EXPECT_EQ(status.at("id"), "w-1");
  EXPECT_EQ(status.at("runtimeStatus"), "Completed");
  EXPECT_EQ(status.at("output").at("status"), "processed");
  // Answered after the fact: the stats already hold it.
  EXPECT_EQ(get_json(*client_, "/api/streams/wait/stats").at("bits"), 7);

  std::string batch;
  for (int i = 0; i < 50; ++i) {
    batch += R"({"event_id":"wb-)" + std::to_string(i) +
             R"(","stream_id":"wait","type":"follower"})" + "\n";
  }
  auto many = client_->post("/api/events?wait=30", batch, "application/x-ndjson");
  ASSERT_TRUE(many.ok());
  ASSERT_EQ(many->status, 200u) << many->body;
  EXPECT_EQ(json::parse(many->body).at("runtimeStatus").at("Completed"), 50);
  EXPECT_EQ(get_json(*client_, "/api/streams/wait/stats").at("followers"), 50);

  // A repost of a finished event answers at once with how it ended.
  auto again = client_->post("/api/events?wait=30",
                             R"({"event_id":"w-1","stream_id":"wait","type":"cheer","bits":7})");
  ASSERT_EQ(again->status, 200u);
  EXPECT_EQ(json::parse(again->body).at("duplicate"), true);
  // So does a batch of a finished duplicate and a new event, once the new one has finished too.
  auto mixed = client_->post("/api/events?wait=30",
                             R"({"event_id":"w-1","stream_id":"wait","type":"cheer","bits":7})"
                             "\n"
                             R"({"event_id":"w-3","stream_id":"wait","type":"cheer","bits":5})",
                             "application/x-ndjson");
  ASSERT_EQ(mixed->status, 200u) << mixed->body;
  EXPECT_EQ(json::parse(mixed->body).at("runtimeStatus").at("Completed"), 2);
  EXPECT_EQ(get_json(*client_, "/api/streams/wait/stats").at("bits"), 12);

  auto refused = client_->post("/api/events?wait=soon",
                               R"({"event_id":"w-2","stream_id":"wait","type":"follower"})");
  ASSERT_EQ(refused->status, 400u);
  EXPECT_EQ(json::parse(refused->body).at("error").at("field"), "wait");
  EXPECT_EQ(
      get_json(*client_, "/runtime/webhooks/durabletask/instances/w-2", 404).at("error").at("code"),
      "not_found");
}

TEST_F(PipelineTest, SimulateChecksEveryStreamAfterSteadyTrafficAndBursts) {
  auto steady = testing::run_sluice({"simulate", "--url", server_->url(), "--rate", "400",
                                     "--events", "600", "--streams", "5", "--quiet"});
  EXPECT_EQ(steady.exit.code, 0) << steady.output;
  EXPECT_NE(steady.output.find("stats: all 5 streams exactly as sent"), std::string::npos)
      << steady.output;
  EXPECT_NE(steady.output.find("instances: Completed 600"), std::string::npos) << steady.output;

  auto bursts =
      testing::run_sluice({"simulate", "--url", server_->url(), "--burst", "300", "--burst-every",
                           "0.5", "--events", "900", "--batch", "50", "--streams", "7", "--quiet"});
  EXPECT_EQ(bursts.exit.code, 0) << bursts.output;
  EXPECT_NE(bursts.output.find("instances: Completed 900"), std::string::npos) << bursts.output;
  EXPECT_NE(bursts.output.find("stats: all 7 streams exactly as sent"), std::string::npos);

  auto nobody = testing::run_sluice({"simulate", "--url", "http://127.0.0.1:1", "--quiet"});
  EXPECT_EQ(nobody.exit.code, 1) << nobody.output;
  EXPECT_NE(nobody.output.find("no sluice server answers"), std::string::npos) << nobody.output;
}

TEST_F(PipelineTest, SigkillDuringABurstLosesAndDoublesNothing) {
  pipeline::Traffic traffic("ev-", "stream-", 8, std::random_device{}());
  std::mt19937 random(std::random_device{}());
  for (int round = 0; round < 3; ++round) {
    // A burst, then a kill at a random moment while it is being processed.
    for (int batch = 0; batch < 6; ++batch) {
      std::string body;
      for (int i = 0; i < 500; ++i) body += traffic.next() + "\n";
      auto response = client_->post("/api/events", body, "application/x-ndjson");
      ASSERT_TRUE(response.ok());
      ASSERT_EQ(response->status, 202u);
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution(0, 400)(random)));
    server_->kill_hard();
    start();
  }
  wait_drained(*client_);
  expect_stats(*client_, traffic.expected());
  EXPECT_TRUE(get_json(*client_, "/runtime/webhooks/durabletask/instances?runtimeStatus=Failed")
                  .as_array()
                  .empty());
}

}  // namespace
}  // namespace sluice
