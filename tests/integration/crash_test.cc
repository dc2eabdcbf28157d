// Durable ingest under SIGKILL: every event that got a 2xx is in the queue exactly once after a
// restart, however the process died.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "core/clock.h"
#include "http/client.h"
#include "queue/intake_queue.h"
#include "tests/integration/server_process.h"
#include "tests/support/temp_directory.h"
#include "tests/support/test_storage.h"

namespace sluice {
namespace {

namespace json = boost::json;

struct Ledger {
  std::mutex mutex;
  std::set<std::string> acknowledged;  // got a 202
  std::set<std::string> attempted;     // sent, answer or not
};

std::string event(const std::string& id, int n) {
  switch (n % 4) {
    case 0:
      return R"({"event_id":")" + id + R"(","stream_id":"s)" + std::to_string(n % 7) +
             R"(","type":"follower"})";
    case 1:
      return R"({"event_id":")" + id +
             R"(","stream_id":"s1","type":"donation","amount":"1.25","currency":"USD"})";
    case 2:
      return R"({"event_id":")" + id + R"(","stream_id":"s2","type":"cheer","bits":)" +
             std::to_string(n) + "}";
    default:
      return R"({"event_id":")" + id + R"(","stream_id":"s3","type":"subscription","tier":"1000"})";
  }
}

// Posts events until the server goes away. Threads below `batch_threads` send NDJSON batches.
void produce(const std::string& url, int thread, int round, bool batches, Ledger& ledger) {
  auto client = std::move(http::Client::create(url).value());
  for (int n = 0;; ++n) {
    std::vector<std::string> ids;
    std::string body;
    const int count = batches ? 50 : 1;
    for (int i = 0; i < count; ++i) {
      ids.push_back("r" + std::to_string(round) + "-t" + std::to_string(thread) + "-" +
                    std::to_string(n * count + i));
      body += event(ids.back(), n * count + i) + "\n";
    }
    {
      std::lock_guard lock(ledger.mutex);
      ledger.attempted.insert(ids.begin(), ids.end());
    }
    auto response = batches ? client->post("/api/events", body, "application/x-ndjson")
                            : client->post("/api/events", body);
    if (!response.ok()) return;  // the server is gone
    ASSERT_EQ(response->status, 202u) << response->body;
    std::lock_guard lock(ledger.mutex);
    ledger.acknowledged.insert(ids.begin(), ids.end());
  }
}

TEST(CrashTest, EveryAcknowledgedEventSurvivesSigkillExactlyOnce) {
  testing::TempDirectory data;
  Ledger ledger;
  std::mt19937 random(std::random_device{}());
  constexpr int kRounds = 3;
  constexpr int kThreads = 6;

  for (int round = 0; round < kRounds; ++round) {
    // Processing is paused: this test reads the queue itself afterwards.
    testing::ServerProcess server(data.str(), {"--set", "pipeline.paused=true"});
    ASSERT_TRUE(server.started()) << server.log();
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t) {
      producers.emplace_back(produce, server.url(), t, round, t >= kThreads - 2, std::ref(ledger));
    }
    // The kill lands at a random moment while every producer is mid-stream.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution(300, 1500)(random)));
    server.kill_hard();
    for (auto& producer : producers) producer.join();
  }
  ASSERT_GT(ledger.acknowledged.size(), 100u) << "too little traffic to prove anything";

  // Restarted, the server knows every acknowledged id: posting it again is a duplicate.
  std::int64_t depth = 0;
  {
    testing::ServerProcess server(data.str(), {"--set", "pipeline.paused=true"});
    ASSERT_TRUE(server.started()) << server.log();
    auto client = std::move(http::Client::create(server.url()).value());
    depth = json::parse(client->get("/api/queue")->body).at("depth").as_int64();
    std::string batch;
    std::vector<std::string> sample(ledger.acknowledged.begin(), ledger.acknowledged.end());
    std::shuffle(sample.begin(), sample.end(), random);
    sample.resize(std::min<size_t>(sample.size(), 2000));
    for (const auto& id : sample) batch += event(id, 0) + "\n";
    auto response = client->post("/api/events", batch, "application/x-ndjson");
    ASSERT_TRUE(response.ok());
    json::value answer = json::parse(response->body);
    EXPECT_EQ(answer.at("accepted"), 0) << "acknowledged events were lost";
    EXPECT_EQ(server.stop().code, 0);
  }

  // Read the queue straight from storage: each acknowledged id once, nothing never sent.
  auto backend = testing::open_storage(data.str());
  SystemClock clock;
  auto queue = std::move(queue::IntakeQueue::open(*backend, clock, "alerts").value());
  std::map<std::string, int> copies;
  for (const auto& message : queue->lease(1'000'000).value()) ++copies[message.id];
  EXPECT_EQ(static_cast<std::int64_t>(copies.size()), depth);
  for (const auto& [id, count] : copies) {
    EXPECT_EQ(count, 1) << id << " is queued " << count << " times";
    EXPECT_TRUE(ledger.attempted.contains(id)) << id << " was never sent";
  }
  for (const auto& id : ledger.acknowledged) {
    EXPECT_TRUE(copies.contains(id)) << id << " was acknowledged but is not queued";
  }
}

}  // namespace
}  // namespace sluice
