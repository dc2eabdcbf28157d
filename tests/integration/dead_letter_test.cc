// Dead letters over real HTTP: an event whose alerts activity keeps failing is dead-lettered with
// its full context; once the cause is fixed, a replay completes it and stats do not move. The
// pipeline runs in this process so the test can make its alerts fail (the binary's alerts only
// fail through webhooks).

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "http/client.h"
#include "pipeline/process_event.h"
#include "tests/integration/in_process_server.h"
#include "tests/integration/server_process.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;

class DeadLetterTest : public ::testing::Test {
 protected:
  DeadLetterTest() {
    pipeline::PipelineOptions options;
    options.retry.max_attempts = 3;
    options.retry.first_interval = 1000;  // 1 ms
    pipeline::register_pipeline(host_.registry(), host_.streams(), host_.dead_letters(), feed_,
                                host_.clock(), options);
    host_.registry().add_activity(
        "alerts", [this](ActivityContext&, std::string_view) -> Result<std::string> {
          ++alert_attempts_;
          if (sink_down_) return unavailable("webhook answered 500");
          return std::string("delivered");
        });
    host_.start(true);
    client_ = host_.client();
  }

  json::value get(const std::string& target, unsigned expected = 200) {
    auto response = client_->get(target);
    EXPECT_TRUE(response.ok());
    EXPECT_EQ(response->status, expected) << target << " → " << response->body;
    return json::parse(response->body);
  }
  // Polls `target` until `done` holds; fails after a minute.
  json::value wait_for(const std::string& target,
                       const std::function<bool(const json::value&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (std::chrono::steady_clock::now() < deadline) {
      auto response = client_->get(target);
      if (response.ok() && response->status < 500) {
        json::value body = json::parse(response->body);
        if (done(body)) return body;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ADD_FAILURE() << target << " never reached the expected state";
    return nullptr;
  }

  testing::TempDirectory directory_;
  pipeline::AlertFeed feed_;
  std::atomic<bool> sink_down_{true};
  std::atomic<int> alert_attempts_{0};
  testing::InProcessServer host_{directory_.str()};  // after what its activities use
  std::unique_ptr<http::Client> client_;
};

TEST_F(DeadLetterTest, ExhaustedEventIsDeadLetteredThenReplayedWithoutRecounting) {
  const char* event =
      R"({"event_id":"dl-1","stream_id":"s1","type":"donation","amount":"3.00","currency":"USD"})";
  ASSERT_EQ(client_->post("/api/events", event)->status, 202u);

  json::value listed = wait_for("/api/deadletter", [](const json::value& body) {
    return !body.at("items").as_array().empty();
  });
  const json::value record = get("/api/deadletter/dl-1");
  EXPECT_EQ(record.at("id"), "dl-1");
  EXPECT_EQ(record.at("event").at("amount"), "3.00");
  EXPECT_EQ(record.at("instance_id"), "dl-1");
  const json::value& error = record.at("error");
  EXPECT_EQ(error.at("activity"), "alerts");
  EXPECT_EQ(error.at("attempts"), 3);
  EXPECT_NE(std::string(error.at("message").as_string()).find("webhook answered 500"),
            std::string::npos);
  EXPECT_LE(std::string(error.at("first_attempt_at").as_string()),
            std::string(error.at("last_attempt_at").as_string()));
  EXPECT_EQ(error.at("retry_policy").at("max_attempts"), 3);
  EXPECT_TRUE(record.at("dead_lettered_at").is_string());
  EXPECT_EQ(alert_attempts_, 3);
  EXPECT_EQ(get("/runtime/webhooks/durabletask/instances/dl-1").at("runtimeStatus"), "Failed");
  EXPECT_EQ(get("/api/queue").at("deadletter").at("count"), 1);
  EXPECT_EQ(get("/api/streams/s1/stats").at("donations").at("totals").at("USD"), "3.00");

  // The same through the command line.
  const std::string url = host_.url();
  auto shown = testing::run_sluice({"dlq", "show", "dl-1", "--url", url});
  EXPECT_EQ(shown.exit.code, 0) << shown.output;
  EXPECT_EQ(json::parse(shown.output).at("error").at("activity"), "alerts");
  auto all = testing::run_sluice({"dlq", "list", "--url", url});
  EXPECT_EQ(all.exit.code, 0) << all.output;
  EXPECT_EQ(json::parse(all.output).at("items").as_array().size(), 1u);
  EXPECT_EQ(testing::run_sluice({"dlq", "delete", "nobody", "--url", url}).exit.code, 1);
  EXPECT_EQ(testing::run_sluice({"dlq", "show", "--url", url}).exit.code, 2);
  auto printed = testing::run_sluice({"stats", "s1", "--url", url});
  EXPECT_EQ(printed.exit.code, 0) << printed.output;
  EXPECT_EQ(json::parse(printed.output).at("events"), 1);
  EXPECT_EQ(testing::run_sluice({"stats", "nobody", "--url", url}).exit.code, 1);

  sink_down_ = false;
  auto replayed = client_->post("/api/deadletter/dl-1/replay", "");
  ASSERT_TRUE(replayed.ok());
  ASSERT_EQ(replayed->status, 202u) << replayed->body;
  const std::string instance(json::parse(replayed->body).at("id").as_string());
  EXPECT_TRUE(instance.starts_with("dl-1:replay-"));
  wait_for("/runtime/webhooks/durabletask/instances/" + instance,
           [](const json::value& body) { return body.at("runtimeStatus") == "Completed"; });
  EXPECT_EQ(get("/api/queue").at("deadletter").at("count"), 0);
  get("/api/deadletter/dl-1", 404);
  const json::value stats = get("/api/streams/s1/stats");
  EXPECT_EQ(stats.at("events"), 1);  // the replay did not count the event again
  EXPECT_EQ(stats.at("donations").at("totals").at("USD"), "3.00");
  EXPECT_EQ(client_->post("/api/deadletter/dl-1/replay", "")->status, 404u);
}

TEST_F(DeadLetterTest, DeleteAndPaging) {
  for (const char* id : {"p-1", "p-2", "p-3"}) {
    const std::string event =
        std::string(R"({"event_id":")") + id + R"(","stream_id":"s2","type":"follower"})";
    ASSERT_EQ(client_->post("/api/events", event)->status, 202u);
  }
  wait_for("/api/queue",
           [](const json::value& body) { return body.at("deadletter").at("count") == 3; });
  const json::value first = get("/api/deadletter?limit=2");
  ASSERT_EQ(first.at("items").as_array().size(), 2u);
  const std::string cursor(first.at("next_cursor").as_string());
  const json::value rest = get("/api/deadletter?limit=2&cursor=" + cursor);
  EXPECT_EQ(rest.at("items").as_array().size(), 1u);
  EXPECT_TRUE(rest.at("next_cursor").is_null());

  auto deleted = client_->request(boost::beast::http::verb::delete_, "/api/deadletter/p-2");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->status, 200u);
  EXPECT_EQ(client_->request(boost::beast::http::verb::delete_, "/api/deadletter/p-2")->status,
            404u);
  EXPECT_EQ(get("/api/queue").at("deadletter").at("count"), 2);
  EXPECT_EQ(get("/api/deadletter/bad%20id", 400).at("error").at("field"), "id");
}

}  // namespace
}  // namespace sluice
