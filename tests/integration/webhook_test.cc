// Webhook delivery and dead letters, end to end: the real `sluice` binary posts alerts to a real
// HTTP sink run by the test. A failing sink is retried, then dead-lettered with its full context;
// once it is fixed, a replay completes the event and stats do not move.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/integration/webhook_sink.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"
#include "webhooks/webhook_sender.h"

namespace sluice {
namespace {

namespace json = boost::json;

constexpr const char* kSecret = "s3cret";

class WebhookTest : public ::testing::Test {
 protected:
  // Starts sluice with two webhooks on the sink: /hook takes every event, signed; /cheers only
  // cheers. Retries are quick so that giving up takes milliseconds.
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--set", "webhooks.hook.url=" + sink_.url("/hook"),
                                     "--set", std::string("webhooks.hook.secret=") + kSecret,
                                     "--set", "webhooks.cheers.url=" + sink_.url("/cheers"),
                                     "--set", "webhooks.cheers.events=cheer",
                                     "--set", "pipeline.retry.max_attempts=3",
                                     "--set", "pipeline.retry.first_interval_ms=5"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<testing::ServerProcess>(directory_.str(), args);
    ASSERT_TRUE(server_->started()) << server_->log();
    client_ = std::move(http::Client::create(server_->url()).value());
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
    json::value body;
    const bool reached = testing::eventually([&] {
      auto response = client_->get(target);
      if (!response.ok() || response->status >= 500) return false;
      body = json::parse(response->body);
      return done(body);
    });
    EXPECT_TRUE(reached) << target << " never reached the expected state";
    return reached ? body : json::value(nullptr);
  }
  json::value wait_until_finished(const std::string& instance) {
    return wait_for("/runtime/webhooks/durabletask/instances/" + instance,
                    [](const json::value& body) {
                      const json::value* status = body.as_object().if_contains("runtimeStatus");
                      return status != nullptr && (*status == "Completed" || *status == "Failed");
                    });
  }

  testing::TempDirectory directory_;
  testing::WebhookSink sink_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(WebhookTest, FailsTwiceThenSucceedsAndIsCountedOnce) {
  sink_.fail_next(2);
  start();
  const char* donation =
      R"({"event_id":"wh-1","stream_id":"s1","type":"donation","amount":"3.00","currency":"USD"})";
  ASSERT_EQ(client_->post("/api/events", donation)->status, 202u);
  EXPECT_EQ(wait_until_finished("wh-1").at("runtimeStatus"), "Completed");

  const auto hooks = sink_.deliveries("/hook");
  ASSERT_EQ(hooks.size(), 3u);
  EXPECT_EQ(hooks[0].answered, 500u);
  EXPECT_EQ(hooks[1].answered, 500u);
  EXPECT_EQ(hooks[2].answered, 200u);
  for (const auto& delivery : hooks) {
    // Every attempt is the same delivery: same body, same idempotency key, signed.
    EXPECT_EQ(delivery.body, hooks[0].body);
    EXPECT_EQ(delivery.headers.at("Idempotency-Key"), "wh-1");
    EXPECT_EQ(delivery.headers.at("X-Sluice-Event-Id"), "wh-1");
    EXPECT_EQ(delivery.headers.at("X-Sluice-Event-Type"), "donation");
    EXPECT_EQ(delivery.headers.at("Content-Type"), "application/json");
    EXPECT_EQ(delivery.headers.at("X-Sluice-Signature"), webhooks::sign(kSecret, delivery.body));
  }
  const json::value body = json::parse(hooks[2].body);
  EXPECT_EQ(body.at("event_id"), "wh-1");
  EXPECT_EQ(body.at("amount"), "3.00");
  EXPECT_TRUE(sink_.deliveries("/cheers").empty());  // filtered by type

  const char* cheer = R"({"event_id":"wh-2","stream_id":"s1","type":"cheer","bits":100})";
  ASSERT_EQ(client_->post("/api/events", cheer)->status, 202u);
  EXPECT_EQ(wait_until_finished("wh-2").at("runtimeStatus"), "Completed");
  const auto cheers = sink_.deliveries("/cheers");
  ASSERT_EQ(cheers.size(), 1u);
  EXPECT_EQ(cheers[0].headers.count("X-Sluice-Signature"), 0u);  // that webhook has no secret
  EXPECT_EQ(sink_.deliveries("/hook").size(), 4u);

  const json::value stats = get("/api/streams/s1/stats");
  EXPECT_EQ(stats.at("events"), 2);
  EXPECT_EQ(stats.at("donations").at("count"), 1);
  EXPECT_EQ(stats.at("donations").at("totals").at("USD"), "3.00");
  EXPECT_EQ(stats.at("bits"), 100);
}

TEST_F(WebhookTest, AlwaysFailingIsDeadLetteredThenReplayedWithoutRecounting) {
  sink_.set_down(true);
  start();
  const char* event =
      R"({"event_id":"dl-1","stream_id":"s1","type":"donation","amount":"3.00","currency":"USD"})";
  ASSERT_EQ(client_->post("/api/events", event)->status, 202u);

  wait_for("/api/deadletter",
           [](const json::value& body) { return !body.at("items").as_array().empty(); });
  const json::value record = get("/api/deadletter/dl-1");
  EXPECT_EQ(record.at("id"), "dl-1");
  EXPECT_EQ(record.at("event").at("amount"), "3.00");
  EXPECT_TRUE(record.at("received_at").is_string());
  EXPECT_EQ(record.at("instance_id"), "dl-1");
  const json::value& error = record.at("error");
  EXPECT_EQ(error.at("activity"), "alerts");
  EXPECT_EQ(error.at("attempts"), 3);
  EXPECT_NE(std::string(error.at("message").as_string()).find("webhook hook answered HTTP 500"),
            std::string::npos)
      << error;
  EXPECT_LE(std::string(error.at("first_attempt_at").as_string()),
            std::string(error.at("last_attempt_at").as_string()));
  EXPECT_EQ(error.at("retry_policy").at("max_attempts"), 3);
  EXPECT_EQ(error.at("retry_policy").at("first_interval_ms"), 5);
  EXPECT_TRUE(record.at("dead_lettered_at").is_string());
  EXPECT_EQ(sink_.deliveries("/hook").size(), 3u);
  EXPECT_EQ(get("/runtime/webhooks/durabletask/instances/dl-1").at("runtimeStatus"), "Failed");
  EXPECT_EQ(get("/api/queue").at("deadletter").at("count"), 1);
  EXPECT_EQ(get("/api/streams/s1/stats").at("donations").at("totals").at("USD"), "3.00");

  // The same through the command line.
  const std::string url = server_->url();
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

  sink_.set_down(false);
  auto replayed = testing::run_sluice({"dlq", "replay", "dl-1", "--url", url});
  ASSERT_EQ(replayed.exit.code, 0) << replayed.output;
  const std::string instance(json::parse(replayed.output).at("id").as_string());
  EXPECT_TRUE(instance.starts_with("dl-1:replay-"));
  EXPECT_EQ(wait_until_finished(instance).at("runtimeStatus"), "Completed");
  const auto hooks = sink_.deliveries("/hook");
  ASSERT_EQ(hooks.size(), 4u);
  EXPECT_EQ(hooks[3].answered, 200u);
  EXPECT_EQ(hooks[3].headers.at("Idempotency-Key"),
            "dl-1");  // the receiver can tell it is one event
  EXPECT_EQ(get("/api/queue").at("deadletter").at("count"), 0);
  get("/api/deadletter/dl-1", 404);
  const json::value stats = get("/api/streams/s1/stats");
  EXPECT_EQ(stats.at("events"), 1);  // the replay did not count the event again
  EXPECT_EQ(stats.at("donations").at("totals").at("USD"), "3.00");
  EXPECT_EQ(client_->post("/api/deadletter/dl-1/replay", "")->status, 404u);
}

TEST_F(WebhookTest, SlowWebhookTimesOut) {
  sink_.set_delay(std::chrono::milliseconds(2000));
  start({"--set", "webhooks.hook.timeout_ms=100", "--set", "pipeline.retry.max_attempts=2"});
  ASSERT_EQ(client_->post("/api/events", R"({"event_id":"t-1","stream_id":"s1","type":"follower"})")
                ->status,
            202u);
  EXPECT_EQ(wait_until_finished("t-1").at("runtimeStatus"), "Failed");
  const json::value record = get("/api/deadletter/t-1");
  EXPECT_NE(std::string(record.at("error").at("message").as_string())
                .find("webhook hook: no answer within 100 ms"),
            std::string::npos)
      << record;
}

TEST_F(WebhookTest, DeleteAndPaging) {
  sink_.set_down(true);
  start();
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

TEST_F(WebhookTest, OfConcurrentReplaysAndDeletesOfOneLetterExactlyOneApplies) {
  sink_.set_down(true);
  start();
  ASSERT_EQ(
      client_->post("/api/events", R"({"event_id":"race-1","stream_id":"s1","type":"follower"})")
          ->status,
      202u);
  EXPECT_EQ(wait_until_finished("race-1").at("runtimeStatus"), "Failed");
  ASSERT_EQ(get("/api/queue").at("deadletter").at("count"), 1);
  sink_.set_down(false);

  // Each request on its own connection, all let go at once.
  constexpr int kRequests = 12;
  std::vector<unsigned> answers(kRequests, 0);
  std::vector<std::string> bodies(kRequests);
  std::atomic<int> ready{0};
  std::vector<std::thread> requests;
  for (int i = 0; i < kRequests; ++i) {
    requests.emplace_back([&, i] {
      auto client = http::Client::create(server_->url()).value();
      ++ready;
      while (ready.load() < kRequests) std::this_thread::yield();
      auto answer =
          i % 2 == 0 ? client->post("/api/deadletter/race-1/replay", "")
                     : client->request(boost::beast::http::verb::delete_, "/api/deadletter/race-1");
      if (answer.ok()) {
        answers[i] = answer->status;
        bodies[i] = answer->body;
      }
    });
  }
  for (auto& request : requests) request.join();
  int applied = 0;
  std::string replayed;
  for (int i = 0; i < kRequests; ++i) {
    if (answers[i] == 200 || answers[i] == 202) {
      ++applied;
      if (answers[i] == 202) replayed = json::parse(bodies[i]).at("id").as_string().c_str();
    } else {
      // Refused: changed by another request after it read the letter, or read after that.
      EXPECT_TRUE(answers[i] == 409 || answers[i] == 404) << answers[i] << " " << bodies[i];
    }
  }
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(get("/api/queue").at("deadletter").at("count"), 0);
  get("/api/deadletter/race-1", 404);
  if (!replayed.empty()) {
    EXPECT_EQ(replayed, "race-1:replay-1");
    EXPECT_EQ(wait_until_finished(replayed).at("runtimeStatus"), "Completed");
  }
  EXPECT_EQ(get("/api/streams/s1/stats").at("events"), 1);
}

TEST(WebhookSettingsTest, BadWebhookStopsTheServerNamingTheKey) {
  testing::TempDirectory directory;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"webhooks.a.url=ftp://example.test/"}, "webhooks.a.url"},
      {{"webhooks.a.url=not a url"}, "webhooks.a.url"},
      {{"webhooks.a.secret=x"}, "webhooks.a.url: is required"},
      {{"webhooks.a.url=http://127.0.0.1:1/", "webhooks.a.events=donation,raid"},
       "webhooks.a.events"},
      {{"webhooks.a.url=http://127.0.0.1:1/", "webhooks.a.timeout_ms=0"}, "webhooks.a.timeout_ms"},
      {{"webhooks.a.colour=blue"}, "webhooks.a.colour"},
      {{"webhooks.Bad.url=http://127.0.0.1:1/"}, "webhooks.Bad.url"},
  };
  for (const auto& [settings, key] : cases) {
    std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0", "--data", directory.str()};
    for (const auto& setting : settings) {
      args.push_back("--set");
      args.push_back(setting);
    }
    auto result = testing::run_sluice(args);
    EXPECT_TRUE(result.exit.exited);
    EXPECT_EQ(result.exit.code, 2) << key;
    EXPECT_NE(result.output.find(key), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace sluice
