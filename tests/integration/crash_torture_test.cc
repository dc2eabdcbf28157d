// Crash torture: the real binary, under steady load, with a webhook that fails a third of its
// deliveries, is SIGKILLed at random moments ten times in a row and restarted each time. Then
// every invariant of DESIGN §1 is checked: every acknowledged event ends Completed or
// dead-lettered, exactly once; stats are exact to the minor unit; every event is in the history
// once; nothing is left queued or running.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <mutex>
#include <random>
#include <thread>

#include "http/client.h"
#include "pipeline/traffic.h"
#include "tests/integration/server_process.h"
#include "tests/integration/webhook_sink.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;

class CrashTortureTest : public ::testing::Test {
 protected:
  void start() {
    server_ = std::make_unique<testing::ServerProcess>(
        directory_.str(),
        std::vector<std::string>{"--set", "webhooks.flaky.url=" + sink_.url("/hook"), "--set",
                                 "pipeline.retry.max_attempts=3", "--set",
                                 "pipeline.retry.first_interval_ms=5"});
    ASSERT_TRUE(server_->started()) << server_->log();
    std::lock_guard lock(url_mutex_);
    url_ = server_->url();
  }
  std::string url() {
    std::lock_guard lock(url_mutex_);
    return url_;
  }
  json::value get(http::Client& client, const std::string& target) {
    auto response = client.get(target);
    EXPECT_TRUE(response.ok() && response->status == 200) << target;
    return response.ok() ? json::parse(response->body) : json::value(nullptr);
  }

  testing::TempDirectory directory_;
  testing::WebhookSink sink_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::mutex url_mutex_;
  std::string url_;  // guarded by url_mutex_: changes with every restart
};

TEST_F(CrashTortureTest, TenKillsUnderLoadLoseAndDoubleNothing) {
  sink_.fail_fraction(1.0 / 3);
  start();

  // Producers post until told to stop; a request without an answer is sent again, with the same
  // events, until one comes: ingest is idempotent by event id.
  std::atomic<bool> producing{true};
  std::vector<pipeline::Traffic> traffic;
  for (int p = 0; p < 2; ++p) {
    traffic.emplace_back("t" + std::to_string(p) + "-", "stream-", 9, 1000 + p);
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 random(p);
      while (producing) {
        const bool batch = std::uniform_int_distribution(0, 1)(random) == 0;
        std::string body;
        for (int i = 0, n = batch ? 40 : 1; i < n; ++i) body += traffic[p].next() + "\n";
        const bool taken = testing::eventually(
            [&] {
              auto client = http::Client::create(url());
              auto response = (*client)->post("/api/events", body,
                                              batch ? "application/x-ndjson" : "application/json");
              return response.ok() && response->status == 202;
            },
            std::chrono::minutes(2));
        if (!taken) {
          ADD_FAILURE() << "the server never took a request back";
          producing = false;
          return;
        }
      }
    });
  }

  std::mt19937 random(std::random_device{}());
  for (int kill = 0; kill < 10; ++kill) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution(100, 600)(random)));
    server_->kill_hard();
    start();
  }
  producing = false;
  for (auto& producer : producers) producer.join();

  auto client = std::move(http::Client::create(url()).value());
  testing::eventually(
      [&] {
        const json::value queue = get(*client, "/api/queue");
        return queue.at("depth") == 0 && queue.at("running") == 0;
      },
      std::chrono::minutes(3));
  const json::value queue = get(*client, "/api/queue");
  ASSERT_EQ(queue.at("depth"), 0) << "events left in the queue";
  ASSERT_EQ(queue.at("running"), 0) << "orchestrations still running";

  // Every event: one instance, finished; Failed exactly when it has a dead letter.
  std::map<std::string, pipeline::StreamTotals> expected;
  std::int64_t sent = 0, failed = 0;
  for (const auto& part : traffic) {
    for (const auto& [stream, totals] : part.expected()) expected[stream].add(totals);
    sent += part.sent();
  }
  for (int p = 0; p < 2; ++p) {
    for (std::int64_t n = 0; n < traffic[p].sent(); ++n) {
      const std::string id = "t" + std::to_string(p) + "-" + std::to_string(n);
      const json::value status = get(*client, "/runtime/webhooks/durabletask/instances/" + id);
      const std::string runtime(status.at("runtimeStatus").as_string());
      auto letter = client->get("/api/deadletter/" + id);
      ASSERT_TRUE(letter.ok());
      if (runtime == "Failed") {
        ++failed;
        EXPECT_EQ(letter->status, 200u) << id << " failed without a dead letter";
      } else {
        EXPECT_EQ(runtime, "Completed") << id;
        EXPECT_EQ(letter->status, 404u) << id << " completed and was dead-lettered";
      }
    }
  }
  EXPECT_EQ(get(*client, "/api/queue").at("deadletter").at("count"), failed);

  // Stats exact, and each stream's history holds each of its events once.
  for (const auto& [stream, want] : expected) {
    const auto differences =
        pipeline::compare_stats(want, get(*client, "/api/streams/" + stream + "/stats"));
    EXPECT_TRUE(differences.empty()) << stream << ": " << differences.front();
    std::set<std::string> listed;
    std::string cursor;
    while (true) {
      const json::value page = get(*client, "/api/streams/" + stream + "/events?limit=1000" +
                                                (cursor.empty() ? "" : "&cursor=" + cursor));
      for (const auto& item : page.at("items").as_array()) {
        EXPECT_TRUE(listed.insert(std::string(item.at("id").as_string())).second)
            << "listed twice: " << item.at("id");
      }
      if (page.at("next_cursor").is_null()) break;
      cursor = page.at("next_cursor").as_string();
    }
    EXPECT_EQ(static_cast<std::int64_t>(listed.size()), want.events) << stream;
  }
  std::cout << "[ torture ] " << sent << " events, " << failed << " dead-lettered, 10 SIGKILLs\n";
}

}  // namespace
}  // namespace sluice
