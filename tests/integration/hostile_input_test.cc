// Hostile input against the real binary: each malformed, oversized or malicious request gets its
// 4xx with a JSON error naming the field, and afterwards everything stored reads back exactly as
// before — queue, stats, event history, dead letters, instances.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;
using http_verb = boost::beast::http::verb;

struct Case {
  std::string name;
  std::string body;
  std::string content_type = "application/json";
  unsigned status = 400;
  std::string field;  // "" when the refusal is not about one field
};

std::string with(const std::string& fields) {
  return R"({"stream_id":"s1","type":"donation","amount":"5.00","currency":"USD")" + fields + "}";
}

std::vector<Case> hostile_bodies() {
  const std::string nested = std::string(5000, '[') + std::string(5000, ']');
  return {
      {"truncated JSON", R"({"stream_id":"s1","type":"foll)"},
      {"truncated NDJSON line",
       "{\"stream_id\":\"s1\",\"type\":\"follower\"}\n{\"stream_id\":\"s1\",\"ty",
       "application/x-ndjson"},
      {"invalid UTF-8", "{\"stream_id\":\"s1\",\"type\":\"follower\",\"user_name\":\"\xff\xfe\"}"},
      {"lone surrogate", R"({"stream_id":"s1","type":"follower","user_name":"\ud800"})"},
      {"NUL byte in the body", std::string(R"({"stream_id":"s1","type":"follower"})") + '\0'},
      {"control character", R"({"stream_id":"s1","type":"follower","user_name":"a\u0007b"})",
       "application/json", 400, "user_name"},
      {"escaped NUL", R"({"stream_id":"s1","type":"follower","message":"a\u0000b"})",
       "application/json", 400, "message"},
      // Numbers JSON cannot hold are refused by the parser for the whole body, before any field.
      {"huge number", R"({"stream_id":"s1","type":"cheer","bits":1e400})"},
      {"integer beyond 64 bits",
       R"({"stream_id":"s1","type":"cheer","bits":99999999999999999999999})"},
      {"negative amount",
       R"({"stream_id":"s1","type":"donation","amount":"-5.00","currency":"USD"})",
       "application/json", 400, "amount"},
      {"over-precise amount",
       R"({"stream_id":"s1","type":"donation","amount":"5.001","currency":"USD"})",
       "application/json", 400, "amount"},
      {"fraction of yen", R"({"stream_id":"s1","type":"donation","amount":"5.5","currency":"JPY"})",
       "application/json", 400, "amount"},
      {"amount in exponent form",
       R"({"stream_id":"s1","type":"donation","amount":"1e3","currency":"USD"})",
       "application/json", 400, "amount"},
      {"amount as a boolean",
       R"({"stream_id":"s1","type":"donation","amount":true,"currency":"USD"})", "application/json",
       400, "amount"},
      {"absurd amount",
       R"({"stream_id":"s1","type":"donation","amount":"99999999999999999999.00","currency":"USD"})",
       "application/json", 400, "amount"},
      {"unknown currency",
       R"({"stream_id":"s1","type":"donation","amount":"5.00","currency":"ABC"})",
       "application/json", 400, "currency"},
      {"lower-case currency",
       R"({"stream_id":"s1","type":"donation","amount":"5.00","currency":"usd"})",
       "application/json", 400, "currency"},
      {"very long event id", with(R"(,"event_id":")" + std::string(129, 'e') + "\""),
       "application/json", 400, "event_id"},
      {"event id with a slash", with(R"(,"event_id":"a/../b")"), "application/json", 400,
       "event_id"},
      {"stream id climbing out", R"({"stream_id":"../../etc","type":"follower"})",
       "application/json", 400, "stream_id"},
      {"very long user name", with(R"(,"user_name":")" + std::string(10000, 'n') + "\""),
       "application/json", 400, "user_name"},
      {"deeply nested value", with(R"(,"extra":)" + nested)},
      {"duplicate key", R"({"stream_id":"s1","type":"follower","type":"cheer"})",
       "application/json", 400, "type"},
      {"number instead of an event", "5"},
      {"null", "null"},
      {"empty body", ""},
      {"empty batch", "[]"},
      {"array of numbers", "[1,2]"},
      {"NDJSON with one bad line",
       "{\"stream_id\":\"s1\",\"type\":\"follower\"}\nnot "
       "json\n{\"stream_id\":\"s1\",\"type\":\"follower\"}\n",
       "application/x-ndjson"},
      {"text/plain", R"({"stream_id":"s1","type":"follower"})", "text/plain", 415, "Content-Type"},
      {"XML", "<event/>", "application/xml", 415, "Content-Type"},
      {"form", "stream_id=s1&type=follower", "application/x-www-form-urlencoded", 415,
       "Content-Type"},
  };
}

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::ServerProcess>(directory_.str());
    ASSERT_TRUE(server_->started()) << server_->log();
    client_ = std::move(http::Client::create(server_->url()).value());
  }
  // Everything a user can read back about what is stored.
  std::string snapshot() {
    std::string all;
    for (const char* target :
         {"/api/queue", "/api/streams/s1/stats", "/api/streams/s1/events?limit=1000",
          "/api/deadletter", "/runtime/webhooks/durabletask/instances?top=1000"}) {
      auto response = client_->get(target);
      EXPECT_TRUE(response.ok());
      all += std::string(target) + " " + std::to_string(response->status) + " " + response->body +
             "\n";
    }
    return all;
  }

  testing::TempDirectory directory_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(HostileInputTest, EveryHostileRequestIsRefusedAndChangesNothing) {
  // Something stored first, processed to the end, so there is something to damage.
  auto first = client_->post(
      "/api/events?wait=30",
      R"({"event_id":"real-1","stream_id":"s1","type":"donation","amount":"5.00","currency":"USD"})");
  ASSERT_EQ(first->status, 200u) << first->body;
  const std::string before = snapshot();

  for (const auto& c : hostile_bodies()) {
    auto response = client_->post("/api/events", c.body, c.content_type);
    ASSERT_TRUE(response.ok()) << c.name;
    EXPECT_EQ(response->status, c.status) << c.name << " → " << response->body;
    boost::system::error_code error;
    const json::value body = json::parse(response->body, error);
    ASSERT_FALSE(error) << c.name << ": the answer is not JSON: " << response->body;
    ASSERT_TRUE(body.as_object().contains("error")) << c.name;
    if (!c.field.empty()) {
      EXPECT_EQ(body.at("error").at("field"), json::value(c.field))
          << c.name << " → " << response->body;
    }
  }

  // Hostile paths and parameters on the read side.
  const std::vector<std::pair<std::string, std::string>> paths = {
      {"/api/streams/..%2F..%2Fetc/stats", "stream_id"},
      {"/api/streams/" + std::string(300, 's') + "/stats", "stream_id"},
      {"/api/streams/s1/events?limit=-1", "limit"},
      {"/api/streams/s1/events?limit=99999999999999999999", "limit"},
      {"/api/streams/s1/events?cursor=%27%3B%20DROP", "cursor"},
      {"/api/streams/s1/events?type=raid", "type"},
      {"/api/deadletter/%00", "id"},
      {"/api/deadletter/" + std::string(300, 'd'), "id"},
      {"/api/events?wait=99999", "wait"},
      {"/runtime/webhooks/durabletask/instances/" + std::string(300, 'i'), "instanceId"},
      {"/runtime/webhooks/durabletask/instances/a%00b", "instanceId"},
      {"/runtime/webhooks/durabletask/orchestrators/process_event/a%2F..%2Fb", "instanceId"},
      {"/runtime/webhooks/durabletask/instances/x/raiseEvent/" + std::string(300, 'e'),
       "eventName"},
  };
  for (const auto& [target, field] : paths) {
    const bool posts = target.starts_with("/api/events") ||
                       target.find("/orchestrators/") != std::string::npos ||
                       target.find("/raiseEvent/") != std::string::npos;
    const auto method = posts ? http_verb::post : http_verb::get;
    auto response = client_->request(method, target, "{}", "application/json");
    ASSERT_TRUE(response.ok()) << target;
    EXPECT_EQ(response->status, 400u) << target << " → " << response->body;
    EXPECT_EQ(json::parse(response->body).at("error").at("field"), json::value(field)) << target;
  }
  auto headers = client_->request(http_verb::get, "/api/queue", {}, {},
                                  {{"X-Padding", std::string(32 * 1024, 'h')}});
  ASSERT_TRUE(headers.ok());
  EXPECT_EQ(headers->status, 431u);

  EXPECT_EQ(snapshot(), before);
}

}  // namespace
}  // namespace sluice
