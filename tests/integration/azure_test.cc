// The Azure Storage queue source against Azurite, with messages put and read by Microsoft's own
// SDK (tests/node): events come out exactly in the stats, poison goes to QUEUE-poison and to dead
// letters, and neither a SIGKILL of sluice nor a restart of the emulator loses or doubles one.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "connectors/azure/signing.h"
#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/support/azurite.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;

class AzureQueueTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--set", "azure.storage=" + azurite_.connection_string(),
                                     "--set", "azure.max_polling_interval_ms=200"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<testing::ServerProcess>(directory_.str(), args);
    ASSERT_TRUE(server_->started()) << server_->log();
    client_ = http::Client::create(server_->url()).value();
  }

  // The stream's stats, or null while it has none.
  json::value stats(const std::string& stream) {
    auto response = client_->get("/api/streams/" + stream + "/stats");
    if (!response.ok() || response->status != 200) return nullptr;
    return json::parse(response->body);
  }
  std::int64_t counted(const std::string& stream) {
    json::value body = stats(stream);
    return body.is_null() ? 0 : body.at("events").as_int64();
  }
  // Poison copies sent to QUEUE-poison, or -1 while some wait in their outbox.
  std::int64_t poison_copies_sent() {
    const json::value report = json::parse(client_->get("/api/queue")->body);
    const json::value& poison = report.at("azure").at("queue").at("poison_queue");
    return poison.at("outbox_depth") == 0 ? poison.at("sent").as_int64() : -1;
  }
  // Every dead letter, page by page.
  json::array dead_letters() {
    json::array letters;
    std::string cursor;
    do {
      auto response =
          client_->get("/api/deadletter?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor));
      EXPECT_TRUE(response.ok());
      if (!response.ok()) break;
      json::value page = json::parse(response->body);
      for (auto& letter : page.at("items").as_array()) letters.push_back(letter);
      const json::value& next = page.at("next_cursor");
      cursor = next.is_string() ? std::string(next.as_string()) : "";
    } while (!cursor.empty());
    return letters;
  }

  testing::Azurite azurite_;
  testing::TempDirectory directory_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

std::string follower(int n, const std::string& stream = "s1") {
  return fmt::format(R"({{"event_id":"f{}","stream_id":"{}","type":"follower","user_name":"u{}"}})",
                     n, stream, n);
}

TEST_F(AzureQueueTest, EventsPutWithTheSdkAreCountedExactlyOnce) {
  std::string lines;
  for (int i = 0; i < 40; ++i) lines += follower(i) + "\n";
  lines += follower(0) + "\n";  // a producer's retry: the same event again
  // Without event ids: each takes one derived from its message, so each counts once.
  lines += R"({"stream_id":"s1","type":"cheer","bits":100,"message":"gg ✨"})"
           "\n";
  lines += R"([{"stream_id":"s1","type":"donation","amount":"5.00","currency":"USD"},)"
           R"({"stream_id":"s1","type":"subscription","tier":"1000"}])"
           "\n";
  azurite_.send("alerts", lines);
  start();

  // 40 followers (one sent twice), a cheer, and a batch of two.
  ASSERT_TRUE(testing::eventually([&] { return counted("s1") == 43; })) << stats("s1");
  json::value body = stats("s1");
  EXPECT_EQ(body.at("followers").as_int64(), 40);
  EXPECT_EQ(body.at("bits").as_int64(), 100);
  EXPECT_EQ(body.at("subscriptions").as_int64(), 1);
  EXPECT_EQ(body.at("donations").at("totals").at("USD"), "5.00");
  ASSERT_TRUE(testing::eventually([&] { return azurite_.count("alerts") == 0; }));
  EXPECT_EQ(azurite_.count("alerts-poison"), 0);
  EXPECT_TRUE(dead_letters().empty());
}

// SIGTERM while the receivers, the mirror and the sink are at work (or asleep between polls):
// the server stops, storing what it received.
TEST_F(AzureQueueTest, SigtermStopsTheServerWhileItDrains) {
  std::string lines;
  for (int i = 0; i < 500; ++i) lines += follower(i) + "\n";
  lines += R"({"stream_id":"s1","type":"raid"})"
           "\n";
  azurite_.send("alerts", lines);
  start();
  ASSERT_TRUE(testing::eventually([&] { return counted("s1") > 0; }));
  const testing::ExitResult stopped = server_->stop();
  EXPECT_TRUE(stopped.exited);
  EXPECT_EQ(stopped.code, 0) << server_->log();
}

TEST_F(AzureQueueTest, RawJsonMessagesWhenTheEncodingIsNone) {
  azurite_.send("orders", follower(1, "raw") + "\n" + follower(2, "raw") + "\n", "none");
  start({"--set", "azure.queue=orders", "--set", "azure.message_encoding=none"});
  ASSERT_TRUE(testing::eventually([&] { return counted("raw") == 2; })) << stats("raw");
  ASSERT_TRUE(testing::eventually([&] { return azurite_.count("orders") == 0; }));
}

TEST_F(AzureQueueTest, MessagesThatAreNoEventsArePoisonedAndDeadLettered) {
  const std::string bad_field = R"({"stream_id":"s1","type":"raid"})";
  const std::string not_json = R"({"stream_id":)";
  azurite_.send("alerts", follower(1) + "\n" + bad_field + "\n" + not_json + "\n");
  azurite_.send("alerts", "not base64 at all!\n", "none");
  start();

  ASSERT_TRUE(testing::eventually([&] { return dead_letters().size() == 3; })) << server_->log();
  // The good message beside them is stored.
  EXPECT_TRUE(testing::eventually([&] { return counted("s1") == 1; })) << stats("s1");
  ASSERT_TRUE(testing::eventually([&] { return azurite_.count("alerts") == 0; }));
  // Copied once each, from the outbox committed with the dead letters.
  ASSERT_TRUE(testing::eventually([&] { return poison_copies_sent() == 3; }))
      << client_->get("/api/queue")->body;
  EXPECT_EQ(azurite_.count("alerts-poison"), 3);

  // The poison queue holds each body exactly as it came, as the Functions trigger's does.
  json::array poison = json::parse(azurite_.drain("alerts-poison")).as_array();
  std::vector<std::string> texts;
  for (const auto& message : poison) texts.emplace_back(message.at("text").as_string());
  std::sort(texts.begin(), texts.end());
  std::vector<std::string> expected = {"not base64 at all!", azure::base64_encode(bad_field),
                                       azure::base64_encode(not_json)};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(texts, expected);

  std::map<std::string, json::object> by_code;
  for (const auto& letter : dead_letters()) {
    const json::object& record = letter.as_object();
    by_code[std::string(record.at("error").at("code").as_string())] = record;
    EXPECT_TRUE(record.at("id").as_string().starts_with("azure-"));
    EXPECT_EQ(record.at("source").at("azure_queue"), "alerts");
    EXPECT_EQ(record.at("source").at("dequeue_count"), 1);
    EXPECT_FALSE(record.at("source").at("message_id").as_string().empty());
    EXPECT_TRUE(record.at("error").as_object().contains("first_attempt_at"));
    EXPECT_TRUE(record.at("error").as_object().contains("last_attempt_at"));
  }
  ASSERT_TRUE(by_code.contains("invalid_field")) << json::serialize(dead_letters());
  EXPECT_EQ(by_code["invalid_field"].at("error").at("field"), "type");
  EXPECT_EQ(by_code["invalid_field"].at("body").as_string(), bad_field);
  ASSERT_TRUE(by_code.contains("malformed_json"));
  EXPECT_EQ(by_code["malformed_json"].at("body").as_string(), not_json);
  ASSERT_TRUE(by_code.contains("invalid_encoding"));
  EXPECT_EQ(by_code["invalid_encoding"].at("error").at("field"), "MessageText");
}

TEST_F(AzureQueueTest, AMessageReceivedTooOftenIsPoisonEvenWhenValid) {
  azurite_.send("alerts", follower(7) + "\n");
  // Two receivers before sluice that never delete: its dequeue count reaches 3.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(testing::eventually([&] {
      return azurite_.queue_tool(fmt::format("hide '{}' alerts", azurite_.connection_string())) ==
             "1\n";
    }));
  }
  start({"--set", "azure.max_dequeue_count=2"});
  ASSERT_TRUE(testing::eventually([&] { return dead_letters().size() == 1; })) << server_->log();
  const json::object letter = dead_letters().at(0).as_object();
  EXPECT_EQ(letter.at("error").at("code"), "too_many_dequeues");
  EXPECT_EQ(letter.at("source").at("dequeue_count"), 3);
  EXPECT_EQ(counted("s1"), 0);
  ASSERT_TRUE(testing::eventually([&] { return poison_copies_sent() == 1; }))
      << client_->get("/api/queue")->body;
  EXPECT_EQ(azurite_.count("alerts-poison"), 1);
}

// SIGKILL while draining: the messages it held come back once their visibility ends, and the
// events they carry, stored or not, end up counted once each.
TEST_F(AzureQueueTest, SigkillWhileDrainingLosesAndDoublesNothing) {
  constexpr int kEvents = 3000;
  std::string lines;
  for (int i = 0; i < kEvents; ++i) lines += follower(i) + "\n";
  azurite_.send("alerts", lines);
  const std::vector<std::string> settings = {"--set", "azure.visibility_timeout_seconds=2"};
  start(settings);
  ASSERT_TRUE(testing::eventually([&] { return counted("s1") >= kEvents / 10; }));
  server_->kill_hard();
  const long left = azurite_.count("alerts");
  ASSERT_GT(left, 0) << "the kill came after the queue was drained: it tested nothing";

  server_.reset();
  start(settings);
  ASSERT_TRUE(
      testing::eventually([&] { return counted("s1") == kEvents; }, std::chrono::minutes(3)))
      << stats("s1");
  ASSERT_TRUE(testing::eventually([&] { return azurite_.count("alerts") == 0; }));
  EXPECT_EQ(counted("s1"), kEvents);
  EXPECT_EQ(stats("s1").at("followers").as_int64(), kEvents);
  EXPECT_EQ(azurite_.count("alerts-poison"), 0);
}

// The emulator stopped under load and started again: receives and deletes fail meanwhile, the
// source backs off, and in the end every event is counted once.
TEST_F(AzureQueueTest, TheEmulatorStoppedAndRestartedChangesNothing) {
  constexpr int kEvents = 2000;
  std::string lines;
  for (int i = 0; i < kEvents; ++i) lines += follower(i) + "\n";
  azurite_.send("alerts", lines);
  start({"--set", "azure.visibility_timeout_seconds=2"});
  ASSERT_TRUE(testing::eventually([&] { return counted("s1") >= kEvents / 10; }));
  azurite_.stop();
  const std::int64_t while_down = counted("s1");
  ASSERT_LT(while_down, kEvents) << "the emulator stopped after the queue was drained";
  std::this_thread::sleep_for(std::chrono::seconds(1));  // polls fail meanwhile
  azurite_.start();
  ASSERT_TRUE(
      testing::eventually([&] { return counted("s1") == kEvents; }, std::chrono::minutes(3)))
      << stats("s1") << server_->log();
  ASSERT_TRUE(testing::eventually([&] { return azurite_.count("alerts") == 0; }));
  EXPECT_EQ(stats("s1").at("followers").as_int64(), kEvents);
}

// The dead letters sluice records, both of poison and of events whose processing failed, as
// the messages on azure.deadletter_queue hold them.
std::map<std::string, json::value> mirrored(const testing::Azurite& azurite) {
  std::map<std::string, json::value> records;
  const json::value messages = json::parse(azurite.drain("alerts-deadletter"));
  for (const auto& message : messages.as_array()) {
    auto text = azure::base64_decode(message.at("text").as_string());
    EXPECT_TRUE(text) << message;
    if (!text) continue;
    json::value record = json::parse(*text);
    records[std::string(record.at("id").as_string())] = record;
  }
  return records;
}

TEST_F(AzureQueueTest, EveryDeadLetterIsPutOnTheDeadLetterQueue) {
  azurite_.send("alerts", R"({"stream_id":"s1","type":"raid"})"
                          "\n");
  // An event whose webhook is down ends dead-lettered once its retries run out.
  start({"--set", "webhooks.down.url=http://127.0.0.1:1/", "--set", "pipeline.retry.max_attempts=2",
         "--set", "pipeline.retry.first_interval_ms=5"});
  auto posted = client_->post("/api/events", follower(1, "s2"));
  ASSERT_TRUE(posted.ok());
  ASSERT_EQ(posted->status, 202u) << posted->body;

  ASSERT_TRUE(testing::eventually([&] { return dead_letters().size() == 2; })) << server_->log();
  ASSERT_TRUE(testing::eventually([&] { return azurite_.count("alerts-deadletter") == 2; }));
  std::map<std::string, json::value> records = mirrored(azurite_);
  ASSERT_EQ(records.size(), 2u);
  for (const auto& letter : dead_letters()) {
    const std::string id(letter.at("id").as_string());
    ASSERT_TRUE(records.contains(id)) << id;
    EXPECT_EQ(records[id], letter);  // the whole record
  }
  json::value queue = json::parse(client_->get("/api/queue")->body);
  EXPECT_EQ(queue.at("azure").at("deadletter_queue").at("outbox_depth"), 0);
  EXPECT_EQ(queue.at("azure").at("deadletter_queue").at("sent"), 2);
  EXPECT_EQ(queue.at("azure").at("queue").at("poisoned"), 1);
}

// SIGKILL while dead letters wait to be mirrored: every one reaches Azure after the restart, and
// at most the one in flight at the kill twice.
TEST_F(AzureQueueTest, SigkillWhileMirroringLosesNoDeadLetter) {
  constexpr int kPoison = 1500;
  std::string lines;
  for (int i = 0; i < kPoison; ++i) {
    lines += fmt::format(R"({{"event_id":"p{}","stream_id":"s1","type":"raid"}})", i) + "\n";
  }
  azurite_.send("alerts", lines);
  start();
  auto recorded = [&] {
    auto response = client_->get("/api/queue");
    if (!response.ok() || response->status != 200) return std::int64_t{-1};
    return json::parse(response->body).at("deadletter").at("count").as_int64();
  };
  ASSERT_TRUE(testing::eventually([&] { return recorded() >= 300; }));
  server_->kill_hard();
  const long at_kill = azurite_.count("alerts-deadletter");

  // Again, on a queue with nothing in it: only the mirror has work.
  server_.reset();
  start({"--set", "azure.queue=idle"});
  const std::int64_t letters = recorded();
  ASSERT_LT(at_kill, letters)
      << "every dead letter was mirrored before the kill: it tested nothing";
  ASSERT_TRUE(testing::eventually([&] { return azurite_.count("alerts-deadletter") >= letters; }));
  ASSERT_TRUE(testing::eventually([&] {
    return json::parse(client_->get("/api/queue")->body)
               .at("azure")
               .at("deadletter_queue")
               .at("outbox_depth") == 0;
  }));
  const long copies = azurite_.count("alerts-deadletter");
  EXPECT_LE(copies, letters + 1);
  std::map<std::string, json::value> records = mirrored(azurite_);
  EXPECT_EQ(static_cast<std::int64_t>(records.size()), letters);
  for (const auto& letter : dead_letters()) {
    EXPECT_TRUE(records.contains(std::string(letter.at("id").as_string()))) << letter;
  }
}

TEST(AzureSettingsTest, ABadConnectionStringStopsTheServerNamingTheKeyNotTheSecret) {
  testing::TempDirectory directory;
  const std::string secret = "c2VjcmV0LWtleS1ieXRlcw==";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"azure.storage=AccountName=a;AccountKey=" + secret + ";DefaultEndpointsProtocol=ftp",
       "azure.storage"},
      {"azure.storage=AccountKey=" + secret, "azure.storage"},
      {"azure.storage=AccountName=a;AccountKey=" + secret + "!", "azure.storage"},
      {"azure.queue=Alerts", "azure.queue"},
      {"azure.message_encoding=utf8", "azure.message_encoding"},
      {"azure.batch_size=33", "azure.batch_size"},
      {"azure.max_dequeue_count=0", "azure.max_dequeue_count"},
      {"azure.deadletter_queue=dead--letters", "azure.deadletter_queue"},
      {"azure.queue=" + std::string(57, 'q'), "azure.queue"},
  };
  for (const auto& [setting, key] : cases) {
    auto result = testing::run_sluice(
        {"serve", "--listen", "127.0.0.1:0", "--data", directory.str(), "--set", setting});
    EXPECT_TRUE(result.exit.exited);
    EXPECT_EQ(result.exit.code, 2) << setting;
    EXPECT_NE(result.output.find(key + ":"), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find(secret.substr(0, 12)), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace sluice
