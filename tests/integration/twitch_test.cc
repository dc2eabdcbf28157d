// Twitch EventSub, end to end: messages signed in this test (its own HMAC, not sluice's) are
// posted to the real `sluice` binary, which must refuse whatever is not authentic or fresh,
// answer the challenge, record revocations, and count each mapped notification exactly once.

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <tuple>
#include <vector>

#include "core/clock.h"
#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

constexpr std::string_view kSecret = "this-is-the-eventsub-secret";

std::string hex_hmac(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

std::string now_rfc3339(std::chrono::seconds offset = {}) {
  const auto now = std::chrono::system_clock::now() + offset;
  return format_rfc3339(
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count());
}

struct Message {
  std::string id;
  std::string type = "notification";
  std::string body;
  std::string timestamp = now_rfc3339();
  std::string secret = std::string(kSecret);
  std::optional<std::string> signature;  // instead of the right one
};

std::string subscription(std::string_view id, std::string_view type, std::string_view status,
                         std::string_view version = "1") {
  return json::serialize(json::object{
      {"id", id},
      {"status", status},
      {"type", type},
      {"version", version},
      {"cost", 1},
      {"condition", {{"broadcaster_user_id", "1337"}}},
      {"transport",
       {{"method", "webhook"}, {"callback", "https://example.com/api/twitch/eventsub"}}},
      {"created_at", "2026-12-01T00:00:00.000Z"}});
}

std::string notification(std::string_view type, std::string_view event,
                         std::string_view version = "1") {
  return R"({"subscription":)" +
         subscription("sub-" + std::string(type), type, "enabled", version) + R"(,"event":)" +
         std::string(event) + "}";
}

constexpr std::string_view kBroadcaster =
    R"("broadcaster_user_id":"1337","broadcaster_user_login":"cool_user","broadcaster_user_name":"Cool_User")";

class TwitchTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--set", "twitch.secret=" + std::string(kSecret)};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<testing::ServerProcess>(directory_.str(), args);
    ASSERT_TRUE(server_->started()) << server_->log();
    client_ = std::move(http::Client::create(server_->url()).value());
  }

  http::ClientResponse send(const Message& message) {
    const std::string signature = message.signature.value_or(
        "sha256=" + hex_hmac(message.secret, message.id + message.timestamp + message.body));
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Twitch-Eventsub-Message-Type", message.type},
        {"Twitch-Eventsub-Subscription-Type", "any"},
        {"Twitch-Eventsub-Subscription-Version", "1"}};
    if (!message.id.empty()) headers.emplace_back("Twitch-Eventsub-Message-Id", message.id);
    if (!message.timestamp.empty()) {
      headers.emplace_back("Twitch-Eventsub-Message-Timestamp", message.timestamp);
    }
    if (!signature.empty()) headers.emplace_back("Twitch-Eventsub-Message-Signature", signature);
    auto response = client_->request(verb::post, "/api/twitch/eventsub", message.body,
                                     "application/json", headers);
    EXPECT_TRUE(response.ok()) << response.status().to_string();
    return response.ok() ? *response : http::ClientResponse{};
  }

  // The field a refusal names.
  static std::string refused_field(const http::ClientResponse& response) {
    const json::value body = json::parse(response.body);
    return std::string(body.at("error").at("field").as_string());
  }

  json::value stats_when(const std::function<bool(const json::value&)>& done) {
    json::value stats;
    const bool reached = testing::eventually([&] {
      auto response = client_->get("/api/streams/cool_user/stats");
      if (!response.ok() || response->status != 200) return false;
      stats = json::parse(response->body);
      return done(stats);
    });
    EXPECT_TRUE(reached) << json::serialize(stats);
    return stats;
  }

  std::string metrics() { return client_->get("/metrics")->body; }

  testing::TempDirectory directory_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(TwitchTest, VerificationIsAnsweredWithTheChallengeExactly) {
  start();
  const std::string challenge = "pogchamp-kappa-360noscope-vohiyo";
  const auto answer = send({.id = "verify-1",
                            .type = "webhook_callback_verification",
                            .body = R"({"challenge":")" + challenge + R"(","subscription":)" +
                                    subscription("sub-v", "channel.follow",
                                                 "webhook_callback_verification_pending", "2") +
                                    "}"});
  EXPECT_EQ(answer.status, 200u);
  EXPECT_EQ(answer.body, challenge);
  EXPECT_EQ(answer.headers[boost::beast::http::field::content_type], "text/plain");
  const json::value listed = json::parse(client_->get("/api/twitch/subscriptions")->body);
  const json::array& subscriptions = listed.at("subscriptions").as_array();
  ASSERT_EQ(subscriptions.size(), 1u);
  EXPECT_EQ(subscriptions[0].at("id"), "sub-v");
  EXPECT_EQ(subscriptions[0].at("type"), "channel.follow");
  EXPECT_EQ(subscriptions[0].at("version"), "2");
  EXPECT_EQ(subscriptions[0].at("status"), "webhook_callback_verification_pending");
  EXPECT_EQ(subscriptions[0].at("condition").at("broadcaster_user_id"), "1337");
}

TEST_F(TwitchTest, RefusesWhatIsNotAuthenticOrFreshAndChangesNothing) {
  start();
  const std::string follow =
      notification("channel.follow",
                   std::string(R"({"user_name":"Ann",)") + std::string(kBroadcaster) + "}", "2");
  Message good{.id = "m-good", .body = follow};

  Message wrong_secret = good;
  wrong_secret.secret = "not-the-eventsub-secret";
  Message tampered = good;
  tampered.signature = "sha256=" + hex_hmac(kSecret, good.id + good.timestamp + good.body);
  tampered.body = notification(
      "channel.cheer", std::string(R"({"bits":1000000,)") + std::string(kBroadcaster) + "}");
  Message unsigned_message = good;
  unsigned_message.signature = "";
  Message upper_case = good;
  upper_case.signature = "SHA256=" + hex_hmac(kSecret, good.id + good.timestamp + good.body);
  Message stale = good;
  stale.timestamp = now_rfc3339(std::chrono::seconds(-601));
  Message future = good;
  future.timestamp = now_rfc3339(std::chrono::seconds(601));
  Message not_a_time = good;
  not_a_time.timestamp = "yesterday";
  Message no_id = good;
  no_id.id = "";

  struct Case {
    const Message& message;
    std::string_view field;
  };
  for (const Case& c : {Case{wrong_secret, "Twitch-Eventsub-Message-Signature"},
                        Case{tampered, "Twitch-Eventsub-Message-Signature"},
                        Case{unsigned_message, "Twitch-Eventsub-Message-Signature"},
                        Case{upper_case, "Twitch-Eventsub-Message-Signature"},
                        Case{stale, "Twitch-Eventsub-Message-Timestamp"},
                        Case{future, "Twitch-Eventsub-Message-Timestamp"},
                        Case{not_a_time, "Twitch-Eventsub-Message-Timestamp"},
                        Case{no_id, "Twitch-Eventsub-Message-Id"}}) {
    const auto answer = send(c.message);
    EXPECT_EQ(answer.status, 403u) << c.field << ": " << answer.body;
    EXPECT_EQ(refused_field(answer), c.field) << answer.body;
  }
  // Nothing was queued or recorded.
  const json::value queue = json::parse(client_->get("/api/queue")->body);
  EXPECT_EQ(queue.at("depth"), 0) << json::serialize(queue);
  EXPECT_EQ(client_->get("/api/streams/cool_user/stats")->status, 404u);
  EXPECT_EQ(json::parse(client_->get("/api/twitch/subscriptions")->body).at("subscriptions"),
            json::array());
  EXPECT_NE(metrics().find(R"(sluice_twitch_eventsub_refused_total{reason="signature"} 5)"),
            std::string::npos);

  // The same message, signed and fresh, is taken.
  EXPECT_EQ(send(good).status, 202u);
  EXPECT_EQ(stats_when([](const json::value& s) { return s.at("followers") == 1; }).at("events"),
            1);
}

TEST_F(TwitchTest, EveryMappedTypeGivesItsExactStats) {
  start();
  auto event = [](std::string_view fields) {
    return "{" + std::string(fields) + "," + std::string(kBroadcaster) + "}";
  };
  struct Sent {
    std::string id, type, event, version = "1";
    unsigned status = 202;
  };
  const std::vector<Sent> sent = {
      {"m-follow-2", "channel.follow",
       event(R"("user_id":"1","user_login":"ann","user_name":"アン <script>alert(1)</script>",
               "followed_at":"2026-12-07T10:00:00.123456789Z")"),
       "2"},
      {"m-follow-1", "channel.follow", event(R"("user_id":"2","user_name":"Ben")")},
      {"m-sub", "channel.subscribe",
       event(R"("user_id":"3","user_name":"Cat","tier":"2000","is_gift":false)")},
      {"m-sub-gifted", "channel.subscribe",
       event(R"("user_id":"4","user_name":"Dan","tier":"1000","is_gift":true)"), "1", 200},
      {"m-gift", "channel.subscription.gift",
       event(R"("user_id":"5","user_name":"Eve","total":5,"tier":"1000","is_anonymous":false)")},
      {"m-resub", "channel.subscription.message",
       event(R"("user_id":"6","user_name":"Fay","tier":"1000","cumulative_months":12,
               "message":{"text":"12 months! ❤️ ñandú","emotes":[]})")},
      {"m-cheer", "channel.cheer",
       event(R"("is_anonymous":true,"user_id":null,"user_name":null,"bits":100,
               "message":"Cheer100")")},
      {"m-donate", "channel.charity_campaign.donate",
       R"({"id":"d1","campaign_id":"c1","broadcaster_id":"1337","broadcaster_login":"cool_user",
           "broadcaster_name":"Cool_User","user_id":"7","user_name":"Gus","charity_name":"Example",
           "amount":{"value":500,"decimal_places":2,"currency":"USD"}})"},
      {"m-raid", "channel.raid", R"({"from_broadcaster_user_login":"x","viewers":9})", "1", 200},
  };
  for (const Sent& s : sent) {
    const auto answer = send({.id = s.id, .body = notification(s.type, s.event, s.version)});
    EXPECT_EQ(answer.status, s.status) << s.type << ": " << answer.body;
  }
  const json::value stats = stats_when([](const json::value& s) { return s.at("events") == 7; });
  EXPECT_EQ(stats.at("followers"), 2);
  EXPECT_EQ(stats.at("subscriptions"), 1 + 5 + 1);  // the gift's recipient is in its total
  EXPECT_EQ(stats.at("gifted_subscriptions"), 5);
  EXPECT_EQ(stats.at("bits"), 100);
  EXPECT_EQ(stats.at("donations").at("count"), 1);
  EXPECT_EQ(stats.at("donations").at("totals").at("USD"), "5.00");

  // Names and messages keep their Unicode exactly; the anonymous cheer has no name.
  const json::value events =
      json::parse(client_->get("/api/streams/cool_user/events?limit=100")->body);
  std::map<std::string, json::object> by_id;
  for (const auto& item : events.at("items").as_array()) {
    by_id[std::string(item.at("id").as_string())] = item.at("event").as_object();
  }
  ASSERT_EQ(by_id.size(), 7u);
  EXPECT_EQ(by_id["m-follow-2"].at("user_name"), "アン <script>alert(1)</script>");
  EXPECT_EQ(by_id["m-follow-2"].at("occurred_at"), "2026-12-07T10:00:00.123Z");
  EXPECT_EQ(by_id["m-resub"].at("message"), "12 months! ❤️ ñandú");
  EXPECT_EQ(by_id["m-resub"].at("months"), 12);
  EXPECT_FALSE(by_id["m-cheer"].contains("user_name"));
  EXPECT_EQ(by_id["m-cheer"].at("anonymous"), true);
  EXPECT_EQ(by_id["m-gift"].at("count"), 5);

  const std::string text = metrics();
  EXPECT_NE(text.find("sluice_twitch_eventsub_not_counted_total 2"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(sluice_twitch_eventsub_messages_total{type="notification"} 9)"),
            std::string::npos);
}

TEST_F(TwitchTest, AMessageSentAgainCountsOnce) {
  start();
  const std::string body = notification(
      "channel.cheer", R"({"user_name":"Hal","bits":250,)" + std::string(kBroadcaster) + "}");
  const auto first = send({.id = "m-again", .body = body});
  ASSERT_EQ(first.status, 202u) << first.body;
  EXPECT_EQ(json::parse(first.body).at("duplicate"), false);
  // Twitch sends it again, later and signed anew, until it gets a 2xx.
  const auto again =
      send({.id = "m-again", .body = body, .timestamp = now_rfc3339(std::chrono::seconds(1))});
  ASSERT_EQ(again.status, 202u) << again.body;
  EXPECT_EQ(json::parse(again.body).at("duplicate"), true);
  const json::value stats = stats_when([](const json::value& s) { return s.at("bits") == 250; });
  EXPECT_EQ(stats.at("events"), 1);
  const std::string text = metrics();
  EXPECT_NE(text.find("sluice_twitch_eventsub_duplicates_total 1"), std::string::npos);
  EXPECT_NE(text.find("sluice_events_accepted_total 1\n"), std::string::npos) << text;
}

TEST_F(TwitchTest, RevocationIsRecordedAndSurvivesARestart) {
  start();
  ASSERT_EQ(send({.id = "m-before",
                  .body = notification("channel.cheer", R"({"user_name":"Ivy","bits":5,)" +
                                                            std::string(kBroadcaster) + "}")})
                .status,
            202u);
  const auto revoked = send(
      {.id = "m-revoke",
       .type = "revocation",
       .body = R"({"subscription":)" +
               subscription("sub-channel.cheer", "channel.cheer", "authorization_revoked") + "}"});
  EXPECT_EQ(revoked.status, 200u) << revoked.body;
  EXPECT_NE(metrics().find(R"(sluice_twitch_eventsub_messages_total{type="revocation"} 1)"),
            std::string::npos);

  server_->stop();
  start();
  const json::value listed = json::parse(client_->get("/api/twitch/subscriptions")->body);
  const json::array& subscriptions = listed.at("subscriptions").as_array();
  ASSERT_EQ(subscriptions.size(), 1u) << json::serialize(listed);
  EXPECT_EQ(subscriptions[0].at("id"), "sub-channel.cheer");
  EXPECT_EQ(subscriptions[0].at("status"), "authorization_revoked");
  EXPECT_EQ(subscriptions[0].at("revocation_reason"), "authorization_revoked");
  EXPECT_EQ(subscriptions[0].at("last_message_type"), "revocation");
  EXPECT_EQ(subscriptions[0].at("notifications"), 1);
  EXPECT_FALSE(subscriptions[0].at("revoked_at").is_null());
}

TEST_F(TwitchTest, MalformedAndOversizedMessagesAreRefusedNamingTheField) {
  start();
  struct Case {
    Message message;
    unsigned status;
    std::string_view field;
  };
  const std::vector<Case> cases = {
      {{.id = "x1", .body = std::string(70 * 1024, ' ')}, 413, "body"},
      {{.id = "x2", .body = "{\"subscription\":"}, 400, "body"},
      {{.id = "x3", .body = R"({"event":{}})"}, 400, "subscription"},
      {{.id = "x4",
        .body = R"({"subscription":)" + subscription("s", "channel.cheer", "enabled") + "}"},
       400,
       "event"},
      {{.id = "x6", .type = "something_else", .body = "{}"}, 400, "Twitch-Eventsub-Message-Type"},
      {{.id = "x7",
        .type = "webhook_callback_verification",
        .body = R"({"subscription":)" + subscription("s", "channel.cheer", "pending") + "}"},
       400,
       "challenge"},
      {{.id = "bad id!",
        .body = notification("channel.follow", "{" + std::string(kBroadcaster) + "}")},
       400,
       "Twitch-Eventsub-Message-Id"},
  };
  for (const Case& c : cases) {
    const auto answer = send(c.message);
    EXPECT_EQ(answer.status, c.status) << c.field << ": " << answer.body;
    EXPECT_EQ(refused_field(answer), c.field) << answer.body;
  }
  // A notification sent again as a revocation (the type header is not signed) is refused.
  const auto replayed = send(
      {.id = "x8",
       .type = "revocation",
       .body = notification("channel.cheer", R"({"bits":5,)" + std::string(kBroadcaster) + "}")});
  EXPECT_EQ(replayed.status, 400u) << replayed.body;
  EXPECT_EQ(refused_field(replayed), "Twitch-Eventsub-Message-Type");
  EXPECT_EQ(json::parse(client_->get("/api/queue")->body).at("depth"), 0);
  EXPECT_EQ(json::parse(client_->get("/api/twitch/subscriptions")->body).at("subscriptions"),
            json::array());
}

TEST_F(TwitchTest, AnAuthenticNotificationThatCannotBeAnEventIsADeadLetterAnswered2xx) {
  start();
  // Twitch would send it again until it got a 2xx, then revoke the subscription.
  for (const auto& [id, event, field] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"m-bits", R"({"bits":"lots",)" + std::string(kBroadcaster) + "}", "event.bits"},
           {"m-gift", R"({"total":5000,"tier":"1000",)" + std::string(kBroadcaster) + "}",
            "event (as the event's count)"}}) {
    const std::string type = id == "m-bits" ? "channel.cheer" : "channel.subscription.gift";
    const std::string body = notification(type, event);
    for (int attempt = 0; attempt < 2; ++attempt) {  // the second is Twitch sending it again
      const auto answer = send({.id = id, .body = body});
      ASSERT_EQ(answer.status, 200u) << answer.body;
      const json::value answered = json::parse(answer.body);
      EXPECT_EQ(answered.at("counted"), false);
      EXPECT_EQ(answered.at("dead_letter").as_string(), "twitch-" + id);
      EXPECT_EQ(answered.at("error").at("field").as_string(), field);
    }
    const auto kept = client_->get("/api/deadletter/twitch-" + id);
    ASSERT_EQ(kept->status, 200u) << kept->body;
    const json::value record = json::parse(kept->body);
    EXPECT_EQ(record.at("body").as_string(), body);
    EXPECT_EQ(record.at("error").at("field").as_string(), field);
    EXPECT_EQ(record.at("source").at("subscription_type").as_string(), type);
  }
  EXPECT_EQ(json::parse(client_->get("/api/queue")->body).at("depth"), 0);
  EXPECT_EQ(client_->get("/api/streams/cool_user/stats")->status, 404u);
  EXPECT_NE(metrics().find("sluice_twitch_eventsub_dead_lettered_total 2"), std::string::npos);
}

TEST_F(TwitchTest, WithoutASecretThereIsNoRouteAndABadSecretStopsTheServer) {
  server_ = std::make_unique<testing::ServerProcess>(directory_.str());
  ASSERT_TRUE(server_->started()) << server_->log();
  client_ = std::move(http::Client::create(server_->url()).value());
  EXPECT_EQ(client_->post("/api/twitch/eventsub", "{}")->status, 404u);
  server_->stop();

  const auto refused =
      testing::run_sluice({"serve", "--data", directory_.str(), "--set", "twitch.secret=tooshort"});
  EXPECT_EQ(refused.exit.code, 2) << refused.output;
  EXPECT_NE(refused.output.find("twitch.secret"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("tooshort"), std::string::npos) << refused.output;
}

}  // namespace
}  // namespace sluice
