// API keys and scopes against the real binary: no key → 401, wrong scope → 403, nothing done
// by a refused request, keys accepted in the three usual headers, never written to the log, and
// no start on a non-loopback address without keys.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;
using http_verb = boost::beast::http::verb;

constexpr const char* kIngestKey = "ingest-key-0123456789";
constexpr const char* kReadKey = "read-key-0123456789ab";
constexpr const char* kAdminKey = "admin-key-0123456789a";
constexpr const char* kEvent = R"({"event_id":"a-1","stream_id":"s1","type":"follower"})";

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::ServerProcess>(
        directory_.str(),
        std::vector<std::string>{
            "--set", std::string("keys.bot.secret=") + kIngestKey, "--set",
            "keys.bot.scopes=ingest", "--set", std::string("keys.overlay.secret=") + kReadKey,
            "--set", "keys.overlay.scopes=read", "--set",
            std::string("keys.ops.secret=") + kAdminKey, "--set", "keys.ops.scopes=admin"});
    ASSERT_TRUE(server_->started()) << server_->log();
  }

  http::ClientResponse call(boost::beast::http::verb method, const std::string& target,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body = "") {
    auto client = http::Client::create(server_->url()).value();
    auto response =
        client->request(method, target, body, body.empty() ? "" : "application/json", headers);
    EXPECT_TRUE(response.ok());
    return response.ok() ? std::move(response).value() : http::ClientResponse{};
  }
  static std::vector<std::pair<std::string, std::string>> bearer(const char* key) {
    return {{"Authorization", std::string("Bearer ") + key}};
  }
  static std::string error_of(const http::ClientResponse& response) {
    const json::value body = json::parse(response.body);
    return std::string(body.at("error").at("code").as_string()) + " " +
           std::string(body.at("error").at("field").as_string());
  }

  testing::TempDirectory directory_;
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(AuthTest, NoKeyOrAWrongKeyIsRefusedAndChangesNothing) {
  auto none = call(http_verb::post, "/api/events", {}, kEvent);
  EXPECT_EQ(none.status, 401u);
  EXPECT_EQ(error_of(none), "unauthorized Authorization");
  EXPECT_EQ(none.headers["WWW-Authenticate"], "Bearer");
  auto wrong = call(http_verb::post, "/api/events", bearer("ingest-key-0123456780"), kEvent);
  EXPECT_EQ(wrong.status, 401u);
  auto queue = call(http_verb::get, "/api/queue", bearer(kReadKey));
  ASSERT_EQ(queue.status, 200u);
  EXPECT_EQ(json::parse(queue.body).at("depth"), 0);             // nothing was queued
  EXPECT_EQ(call(http_verb::get, "/healthz", {}).status, 200u);  // open to probes
}

TEST_F(AuthTest, EachScopeOpensItsRoutesOnly) {
  // ingest: post, in each of the three headers; nothing else.
  EXPECT_EQ(call(http_verb::post, "/api/events", bearer(kIngestKey), kEvent).status, 202u);
  EXPECT_EQ(call(http_verb::post, "/api/events", {{"X-API-Key", kIngestKey}}, kEvent).status, 202u);
  EXPECT_EQ(call(http_verb::post, "/api/events", {{"x-functions-key", kIngestKey}}, kEvent).status,
            202u);
  auto ingest_reads = call(http_verb::get, "/api/queue", bearer(kIngestKey));
  EXPECT_EQ(ingest_reads.status, 403u);
  EXPECT_EQ(error_of(ingest_reads), "forbidden Authorization");
  EXPECT_NE(ingest_reads.body.find("read scope"), std::string::npos) << ingest_reads.body;

  // read: stats, events, queue, status; not posting, not managing, not dead letters.
  EXPECT_EQ(call(http_verb::post, "/api/events", bearer(kReadKey), kEvent).status, 403u);
  EXPECT_EQ(call(http_verb::get, "/api/queue", bearer(kReadKey)).status, 200u);
  EXPECT_EQ(call(http_verb::get, "/api/streams/s1/events", bearer(kReadKey)).status, 200u);
  // The instance exists once the consumer has taken the event off the queue: until then, 404.
  unsigned status = 404;
  testing::eventually([&] {
    status = call(http_verb::get, "/runtime/webhooks/durabletask/instances/a-1", bearer(kReadKey))
                 .status;
    return status != 404;
  });
  EXPECT_TRUE(status == 200u || status == 202u) << status;  // finished, or not yet
  EXPECT_EQ(call(http_verb::post, "/runtime/webhooks/durabletask/instances/a-1/terminate",
                 bearer(kReadKey))
                .status,
            403u);
  EXPECT_EQ(call(http_verb::get, "/api/deadletter", bearer(kReadKey)).status, 403u);

  // admin: management and dead letters, and reading; not posting events.
  EXPECT_EQ(call(http_verb::get, "/api/deadletter", bearer(kAdminKey)).status, 200u);
  EXPECT_EQ(call(http_verb::get, "/api/queue", bearer(kAdminKey)).status, 200u);
  EXPECT_EQ(call(http_verb::post, "/api/events", bearer(kAdminKey), kEvent).status, 403u);
}

TEST_F(AuthTest, CommandsPresentTheirKeyAndTheLogNeverShowsOne) {
  // Waiting answers with the instance's status: that needs read as well as ingest.
  auto waited = call(http_verb::post, "/api/events?wait=30", bearer(kIngestKey), kEvent);
  EXPECT_EQ(waited.status, 403u);
  EXPECT_NE(waited.body.find("read scope"), std::string::npos) << waited.body;
  ASSERT_EQ(call(http_verb::post, "/api/events", bearer(kIngestKey), kEvent).status, 202u);
  ASSERT_TRUE(testing::eventually([&] {
    return call(http_verb::get, "/api/streams/s1/stats", bearer(kReadKey)).status == 200;
  })) << "the event was never counted";
  auto refused = testing::run_sluice({"stats", "s1", "--url", server_->url()});
  EXPECT_EQ(refused.exit.code, 1);
  EXPECT_NE(refused.output.find("HTTP 401"), std::string::npos) << refused.output;
  auto stats = testing::run_sluice({"stats", "s1", "--url", server_->url(), "--api-key", kReadKey});
  EXPECT_EQ(stats.exit.code, 0) << stats.output;
  EXPECT_EQ(json::parse(stats.output).at("followers"), 1);

  server_->stop();
  const std::string log = server_->log();
  for (const char* key : {kIngestKey, kReadKey, kAdminKey}) {
    EXPECT_EQ(log.find(key), std::string::npos) << "the log shows a key";
  }
}

TEST(AuthSettingsTest, RefusesToListenBeyondLoopbackWithoutKeys) {
  testing::TempDirectory directory;
  auto open = testing::run_sluice({"serve", "--listen", "0.0.0.0:0", "--data", directory.str()});
  EXPECT_EQ(open.exit.code, 2);
  EXPECT_NE(open.output.find("listen: 0.0.0.0 is reachable from other machines"), std::string::npos)
      << open.output;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"keys.a.secret=short", "keys.a.secret"},
      {"keys.a.scopes=root", "keys.a.scopes"},
      {"keys.a.scopes=read", "keys.a.secret: is required"},
  };
  for (const auto& [setting, key] : bad) {
    auto result = testing::run_sluice(
        {"serve", "--listen", "127.0.0.1:0", "--data", directory.str(), "--set", setting});
    EXPECT_EQ(result.exit.code, 2) << setting;
    EXPECT_NE(result.output.find(key), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace sluice
