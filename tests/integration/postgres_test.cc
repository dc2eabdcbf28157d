// Storage on PostgreSQL taken away from a running node: the database restarts (as after a crash)
// while clients post events. While it is gone, ingest answers 503 with Retry-After and processing
// waits; when it is back, everything resumes, and a client that retried every refused event sees
// each counted exactly once.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"
#include "tests/support/test_storage.h"

namespace sluice {
namespace {

namespace json = boost::json;

struct Traffic {
  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  std::atomic<int> refused{0};  // 503s, each with Retry-After
  std::atomic<int> refused_without_retry_after{0};
  std::atomic<int> unexpected{0};  // answers other than 202 and 503, or none: the producer quit
};

// Posts one cheer of 1 bit after another until told to stop, each until it is accepted (a 202,
// maybe as a duplicate of a copy whose answer was lost), as a well-behaved client does.
void produce(const std::string& url, int thread, Traffic& traffic) {
  auto client = std::move(http::Client::create(url).value());
  for (int n = 0; !traffic.stop; ++n) {
    const std::string body = R"({"event_id":"t)" + std::to_string(thread) + "-" +
                             std::to_string(n) + R"(","stream_id":"s1","type":"cheer","bits":1})";
    while (true) {
      auto response = client->post("/api/events", body);
      if (response.ok() && response->status == 202) break;
      if (!response.ok() || response->status != 503) {
        ADD_FAILURE() << (response.ok() ? response->body : response.status().to_string());
        ++traffic.unexpected;
        return;
      }
      ++traffic.refused;
      if (response->headers.find("Retry-After") == response->headers.end()) {
        ++traffic.refused_without_retry_after;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ++traffic.acknowledged;
  }
}

json::value stats(http::Client& client) {
  auto response = client.get("/api/streams/s1/stats");
  if (!response.ok() || response->status != 200) return {};
  return json::parse(response->body);
}

TEST(PostgresOutageTest, ARestartedDatabaseUnderLoadLosesAndDoublesNothing) {
  if (!testing::on_postgres())
    GTEST_SKIP() << "needs SLUICE_TEST_STORAGE=postgresql, as ctest sets";
  testing::TempDirectory data;
  testing::ServerProcess server(data.str());
  ASSERT_TRUE(server.started()) << server.log();
  auto client = std::move(http::Client::create(server.url()).value());

  Traffic traffic;
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) producers.emplace_back(produce, server.url(), t, std::ref(traffic));
  ASSERT_TRUE(testing::eventually([&] { return traffic.acknowledged >= 100; }));

  // As after a power cut: no shutdown checkpoint, every session cut.
  testing::test_postgres().stop(/*immediate=*/true);
  ASSERT_TRUE(testing::eventually([&] { return traffic.refused >= 20; }))
      << "ingest went on without its database";
  testing::test_postgres().start();
  const int before = traffic.acknowledged;
  ASSERT_TRUE(testing::eventually([&] { return traffic.acknowledged >= before + 100; }))
      << "ingest did not resume\n"
      << server.log();
  traffic.stop = true;
  for (auto& producer : producers) producer.join();

  ASSERT_EQ(traffic.unexpected, 0);
  EXPECT_EQ(traffic.refused_without_retry_after, 0);
  const int sent = traffic.acknowledged;
  ASSERT_TRUE(testing::eventually([&] {
    const json::value now = stats(*client);
    return now.is_object() && now.at("events").as_int64() >= sent;
  })) << "processing did not resume: "
      << sent << " sent; stats " << stats(*client) << "; queue " << client->get("/api/queue")->body
      << "\n"
      << server.log();
  // Settled: nothing more arrives after every event was counted.
  ASSERT_TRUE(testing::eventually([&] {
    auto queue = client->get("/api/queue");
    return queue.ok() && json::parse(queue->body).at("depth").as_int64() == 0 &&
           json::parse(queue->body).at("running").as_int64() == 0;
  })) << "the queue did not settle: "
      << client->get("/api/queue")->body << "\n"
      << server.log();
  const json::value final_stats = stats(*client);
  EXPECT_EQ(final_stats.at("events").as_int64(), sent) << "an event was counted twice";
  EXPECT_EQ(final_stats.at("bits").as_int64(), sent);
  auto dead = json::parse(client->get("/api/deadletter")->body);
  EXPECT_TRUE(dead.at("items").as_array().empty()) << dead;
  EXPECT_EQ(server.stop().code, 0) << server.log();
}

}  // namespace
}  // namespace sluice
