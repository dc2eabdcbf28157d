// The real binary driven as the Durable Functions clients drive it: the URLs and query parameters
// of their HTTP management API (start, start and wait, status, restart), with the key in the URL
// (`code=`), and process_event started by hand with an event as its input.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

constexpr std::string_view kPrefix = "/runtime/webhooks/durabletask/";
constexpr const char* kKey = "df-key-0123456789abcdef+/=";  // '+', '/', '=' travel encoded
constexpr const char* kEncodedKey = "df-key-0123456789abcdef%2B%2F%3D";

class DurableFunctionsTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> args = {}) {
    server_ = std::make_unique<testing::ServerProcess>(data_.str(), std::move(args));
    ASSERT_TRUE(server_->started()) << server_->log();
    client_ = std::move(http::Client::create(server_->url()).value());
  }

  http::ClientResponse call(verb method, const std::string& target, std::string_view body = {}) {
    auto response = client_->request(method, target, body, body.empty() ? "" : "application/json");
    EXPECT_TRUE(response.ok()) << response.status().to_string();
    return response.ok() ? std::move(response).value() : http::ClientResponse{};
  }
  // A management route, as the client's URLs name them.
  http::ClientResponse manage(verb method, const std::string& path, std::string_view body = {}) {
    return call(method, std::string(kPrefix) + path, body);
  }
  // The target of an absolute URI this server handed out.
  static std::string target_of(const json::value& uri) {
    std::string text(uri.as_string());
    return text.substr(text.find('/', std::string_view("http://").size()));
  }

  json::object finished(const std::string& id) {
    json::object status;
    const bool done = testing::eventually([&] {
      auto response = manage(verb::get, "instances/" + id);
      if (response.status != 200) return false;
      status = json::parse(response.body).as_object();
      return true;
    });
    EXPECT_TRUE(done) << id << " did not finish";
    return status;
  }

  json::value stats(const std::string& stream) {
    return json::parse(call(verb::get, "/api/streams/" + stream + "/stats").body);
  }

  testing::TempDirectory data_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(DurableFunctionsTest, StartingProcessEventWithAnEventRunsItLikeAnIngestedEvent) {
  start();
  auto started =
      manage(verb::post, "orchestrators/process_event/df-1",
             R"({"stream_id":"s-df","type":"donation","amount":"5.00","currency":"USD"})");
  ASSERT_EQ(started.status, 202u) << started.body;
  json::object status = finished("df-1");
  EXPECT_EQ(status.at("runtimeStatus"), "Completed") << json::serialize(status);
  // The event took the instance's id as its event id, as an ingested event's instance takes the
  // event's.
  EXPECT_EQ(status.at("input").at("event").at("event_id"), "df-1");
  EXPECT_EQ(stats("s-df").at("donations").at("count"), 1);
  EXPECT_EQ(stats("s-df").at("donations").at("totals").at("USD"), "5.00");

  // The same event again under another instance: it runs, and is still counted once.
  ASSERT_EQ(manage(verb::post, "orchestrators/process_event/df-2",
                   R"({"event_id":"df-1","stream_id":"s-df","type":"donation","amount":"5.00",)"
                   R"("currency":"USD"})")
                .status,
            202u);
  EXPECT_EQ(finished("df-2").at("runtimeStatus"), "Completed");
  EXPECT_EQ(stats("s-df").at("donations").at("count"), 1);
  EXPECT_EQ(stats("s-df").at("events"), 1);
  EXPECT_EQ(json::parse(call(verb::get, "/api/queue").body).at("deadletter").at("count"), 0);
}

// An event posted with the id of an instance started through the management API cannot start
// its own: its queue message is taken all the same (by the consumer, in a commit of its own), and
// the event counts once.
TEST_F(DurableFunctionsTest, AnEventWhoseInstanceIdIsTakenLeavesTheQueueAndCountsOnce) {
  start();
  const std::string event = R"({"event_id":"df-3","stream_id":"s-taken","type":"cheer","bits":7})";
  ASSERT_EQ(manage(verb::post, "orchestrators/process_event/df-3", event).status, 202u);
  EXPECT_EQ(finished("df-3").at("runtimeStatus"), "Completed");
  auto posted = call(verb::post, "/api/events", event);
  ASSERT_EQ(posted.status, 202u) << posted.body;
  EXPECT_TRUE(testing::eventually([&] {
    return json::parse(call(verb::get, "/api/queue").body).at("depth") == 0;
  })) << "the message was never taken";
  EXPECT_EQ(stats("s-taken").at("events"), 1);
  EXPECT_EQ(stats("s-taken").at("bits"), 7);
}

TEST_F(DurableFunctionsTest, AnInputThatIsNoEventIsRefusedNamingTheFieldAndStartsNothing) {
  start();
  const std::pair<std::string, std::string> cases[] = {
      {R"({"type":"donation","amount":"5.00","currency":"USD"})", "stream_id"},
      {R"({"stream_id":"s","type":"cheer"})", "bits"},
      {R"({"stream_id":"s","type":"party"})", "type"},
      {R"([{"stream_id":"s","type":"follower"}])", "input"},
      {"", "input"},  // no body: the input is null
  };
  int n = 0;
  for (const auto& [input, field] : cases) {
    const std::string id = "bad-" + std::to_string(n++);
    auto refused = manage(verb::post, "orchestrators/process_event/" + id, input);
    EXPECT_EQ(refused.status, 400u) << input << " → " << refused.body;
    EXPECT_EQ(json::parse(refused.body).at("error").at("field"), json::value(field)) << input;
    EXPECT_EQ(manage(verb::get, "instances/" + id).status, 404u) << input;
  }
}

TEST_F(DurableFunctionsTest, StartAndWaitAnswersWithTheOutputOrTheUsual202) {
  // A webhook that refuses every connection, and a long first retry interval: with two attempts,
  // an event with an alert waits a minute between them.
  start({"--set", "webhooks.down.url=http://127.0.0.1:1/", "--set", "webhooks.down.events=cheer",
         "--set", "pipeline.retry.max_attempts=2", "--set",
         "pipeline.retry.first_interval_ms=60000"});
  auto done = manage(verb::post, "orchestrators/process_event/w-1?timeout=30&pollingInterval=1",
                     R"({"stream_id":"s-w","type":"follower","user_name":"ann"})");
  ASSERT_EQ(done.status, 200u) << done.body;
  EXPECT_EQ(json::parse(done.body), json::parse(R"({"status":"processed"})"));

  auto pending = manage(verb::post, "orchestrators/process_event/w-2?timeout=1&pollingInterval=1",
                        R"({"stream_id":"s-w","type":"cheer","bits":100})");
  ASSERT_EQ(pending.status, 202u) << pending.body;
  EXPECT_EQ(json::parse(pending.body).at("id"), "w-2");
  EXPECT_EQ(manage(verb::get, "instances/w-2").status, 202u);  // still waiting to retry

  auto bad = manage(verb::post, "orchestrators/process_event/w-3?timeout=forever",
                    R"({"stream_id":"s-w","type":"follower"})");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(json::parse(bad.body).at("error").at("field"), "timeout");
}

TEST_F(DurableFunctionsTest, AFailedInstanceIs500WhenAskedAndAlwaysDeadLettered) {
  start(
      {"--set", "webhooks.down.url=http://127.0.0.1:1/", "--set", "pipeline.retry.max_attempts=1"});
  auto failed =
      manage(verb::post,
             "orchestrators/process_event/f-1?timeout=30&returnInternalServerErrorOnFailure=true",
             R"({"stream_id":"s-f","type":"follower"})");
  EXPECT_EQ(failed.status, 500u) << failed.body;
  EXPECT_EQ(json::parse(failed.body).at("runtimeStatus"), "Failed");
  EXPECT_EQ(manage(verb::get, "instances/f-1").status, 200u);
  auto asked = manage(verb::get, "instances/f-1?returnInternalServerErrorOnFailure=true");
  EXPECT_EQ(asked.status, 500u);
  EXPECT_EQ(json::parse(asked.body).at("runtimeStatus"), "Failed");
  auto letter = call(verb::get, "/api/deadletter/f-1");
  ASSERT_EQ(letter.status, 200u) << letter.body;
  EXPECT_EQ(json::parse(letter.body).at("instance_id"), "f-1");
  EXPECT_EQ(json::parse(letter.body).at("error").at("activity"), "alerts");
}

TEST_F(DurableFunctionsTest, RestartRunsTheInputAgainUnderANewIdOrItsOwn) {
  start();
  ASSERT_EQ(manage(verb::post, "orchestrators/process_event/r-1?timeout=30",
                   R"({"stream_id":"s-r","type":"cheer","bits":50})")
                .status,
            200u);
  auto again = manage(verb::post, "instances/r-1/restart");
  ASSERT_EQ(again.status, 202u) << again.body;
  const std::string new_id(json::parse(again.body).at("id").as_string());
  EXPECT_NE(new_id, "r-1");
  json::object restarted = finished(new_id);
  EXPECT_EQ(restarted.at("runtimeStatus"), "Completed");
  EXPECT_EQ(restarted.at("name"), "process_event");
  EXPECT_EQ(restarted.at("input").at("event").at("event_id"), "r-1");

  auto same = manage(verb::post, "instances/r-1/restart?restartWithNewInstanceId=false");
  ASSERT_EQ(same.status, 202u) << same.body;
  EXPECT_EQ(json::parse(same.body).at("id"), "r-1");
  EXPECT_EQ(finished("r-1").at("runtimeStatus"), "Completed");
  EXPECT_EQ(stats("s-r").at("bits"), 50);  // three runs, one event: counted once

  EXPECT_EQ(manage(verb::post, "instances/nobody/restart").status, 404u);
  EXPECT_EQ(manage(verb::get, "instances/r-1/restart").status, 405u);
}

TEST_F(DurableFunctionsTest, AKeyInTheUrlIsAcceptedAndCarriedInEveryUriHandedOut) {
  start({"--set", std::string("keys.df.secret=") + kKey, "--set", "keys.df.scopes=ingest,admin"});
  const std::string code = std::string("code=") + kEncodedKey;
  EXPECT_EQ(manage(verb::post, "orchestrators/process_event/k-1",
                   R"({"stream_id":"s-k","type":"follower"})")
                .status,
            401u);
  EXPECT_EQ(manage(verb::post, "orchestrators/process_event/k-1?code=wrong-key-0123456789",
                   R"({"stream_id":"s-k","type":"follower"})")
                .status,
            401u);

  auto started =
      manage(verb::post, "orchestrators/process_event/k-1?taskHub=hub&connection=Storage&" + code,
             R"({"stream_id":"s-k","type":"follower"})");
  ASSERT_EQ(started.status, 202u) << started.body;
  const json::value payload = json::parse(started.body);
  for (const char* uri :
       {"statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "suspendPostUri",
        "resumePostUri", "restartPostUri", "purgeHistoryDeleteUri"}) {
    EXPECT_TRUE(payload.at(uri).as_string().ends_with(code)) << uri << ": " << payload.at(uri);
  }
  // The status URI works as it is, with no header.
  const std::string status_target = target_of(payload.at("statusQueryGetUri"));
  ASSERT_TRUE(testing::eventually([&] { return call(verb::get, status_target).status == 200; }));
  EXPECT_EQ(json::parse(call(verb::get, status_target).body).at("runtimeStatus"), "Completed");

  // Ingest answers the same way; a key sent in a header is never put in a URI.
  auto ingested =
      call(verb::post, "/api/events?" + code, R"({"stream_id":"s-k","type":"follower"})");
  ASSERT_EQ(ingested.status, 202u) << ingested.body;
  EXPECT_TRUE(json::parse(ingested.body).at("statusQueryGetUri").as_string().ends_with(code));
  auto keyed_client = std::move(http::Client::create(server_->url(), kKey).value());
  auto by_header = keyed_client->post("/api/events", R"({"stream_id":"s-k","type":"follower"})");
  ASSERT_TRUE(by_header.ok());
  ASSERT_EQ(by_header->status, 202u) << by_header->body;
  EXPECT_EQ(by_header->body.find("code="), std::string::npos) << by_header->body;

  server_->stop();
  EXPECT_EQ(server_->log().find(kKey), std::string::npos);
  EXPECT_EQ(server_->log().find(kEncodedKey), std::string::npos);
}

}  // namespace
}  // namespace sluice
