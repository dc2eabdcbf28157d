#include "connectors/twitch/eventsub.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sluice::twitch {
namespace {

namespace json = boost::json;

constexpr std::string_view kSecret = "s3cRe7s3cRe7";
constexpr std::string_view kMessageId = "e76c6bd4-55c9-4987-8304-da1588d8988b";
constexpr std::string_view kSentAt = "2019-11-16T10:11:12.634234626Z";

TEST(EventSubSignatureTest, MatchesAnHmacComputedElsewhere) {
  // Python: hmac.new(secret, id + timestamp + body, hashlib.sha256).hexdigest()
  const std::string expected =
      "sha256=ccd820b1ee4971546f6a1acf8ef151f1c7a33c5920e4f6cb8aed1ae51a016aaf";
  EXPECT_EQ(sign(kSecret, kMessageId, kSentAt, R"({"a":1})"), expected);
  EXPECT_TRUE(signature_matches(kSecret, kMessageId, kSentAt, R"({"a":1})", expected));
}

TEST(EventSubSignatureTest, RefusesEveryChange) {
  const std::string good = sign(kSecret, kMessageId, kSentAt, R"({"a":1})");
  EXPECT_FALSE(signature_matches(kSecret, kMessageId, kSentAt, R"({"a":2})", good));
  EXPECT_FALSE(signature_matches("another-secret", kMessageId, kSentAt, R"({"a":1})", good));
  EXPECT_FALSE(signature_matches(kSecret, "other-id", kSentAt, R"({"a":1})", good));
  EXPECT_FALSE(signature_matches(kSecret, kMessageId, "2019-11-16T10:11:13Z", R"({"a":1})", good));
  std::string upper = good;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(signature_matches(kSecret, kMessageId, kSentAt, R"({"a":1})", upper));
  EXPECT_FALSE(signature_matches(kSecret, kMessageId, kSentAt, R"({"a":1})", good.substr(7)));
  EXPECT_FALSE(signature_matches(kSecret, kMessageId, kSentAt, R"({"a":1})", ""));
}

json::object mapped(std::string_view type, std::string_view event,
                    StreamIdFrom from = StreamIdFrom::kLogin) {
  Mapping mapping =
      map_notification(type, json::parse(event).as_object(), kMessageId, kSentAt, from);
  if (auto* error = std::get_if<MappingError>(&mapping)) {
    ADD_FAILURE() << type << ": " << error->field << " " << error->message;
    return {};
  }
  if (std::holds_alternative<NotCounted>(mapping)) {
    ADD_FAILURE() << type << " was not counted";
    return {};
  }
  return std::get<MappedEvent>(std::move(mapping)).event;
}

constexpr std::string_view kBroadcaster =
    R"("broadcaster_user_id":"1337","broadcaster_user_login":"cool_user","broadcaster_user_name":"Cool_User")";

TEST(EventSubMappingTest, FollowIsAFollowerAtItsOwnTime) {
  const json::object event = mapped(
      "channel.follow", fmt::format(R"({{"user_id":"1234","user_login":"ann","user_name":"Ann",{},
        "followed_at":"2020-07-15T18:16:11.17106713Z"}})",
                                    kBroadcaster));
  EXPECT_EQ(event.at("event_id").as_string(), kMessageId);
  EXPECT_EQ(event.at("stream_id"), "cool_user");
  EXPECT_EQ(event.at("type"), "follower");
  EXPECT_EQ(event.at("user_id"), "1234");
  EXPECT_EQ(event.at("user_name"), "Ann");
  EXPECT_EQ(event.at("occurred_at"), "2020-07-15T18:16:11.171Z");
}

TEST(EventSubMappingTest, StreamIdCanBeTheBroadcastersId) {
  const json::object event =
      mapped("channel.follow", fmt::format(R"({{"user_name":"Ann",{}}})", kBroadcaster),
             StreamIdFrom::kId);
  EXPECT_EQ(event.at("stream_id"), "1337");
  EXPECT_EQ(event.at("occurred_at"), "2019-11-16T10:11:12.634Z");  // the message's time
}

TEST(EventSubMappingTest, SubscriptionsKeepTierAndGiftAndMonths) {
  json::object sub = mapped(
      "channel.subscribe",
      fmt::format(R"({{"user_name":"Bob",{},"tier":"2000","is_gift":false}})", kBroadcaster));
  EXPECT_EQ(sub.at("type"), "subscription");
  EXPECT_EQ(sub.at("tier"), "2000");
  EXPECT_EQ(sub.at("gifted"), false);
  EXPECT_FALSE(sub.contains("count"));

  json::object gift =
      mapped("channel.subscription.gift",
             fmt::format(R"({{"user_name":"Carl",{},"total":5,"tier":"1000","cumulative_total":284,
                    "is_anonymous":false}})",
                         kBroadcaster));
  EXPECT_EQ(gift.at("gifted"), true);
  EXPECT_EQ(gift.at("count"), 5);
  EXPECT_EQ(gift.at("user_name"), "Carl");

  json::object resub =
      mapped("channel.subscription.message",
             fmt::format(R"({{"user_name":"Dee",{},"tier":"3000","cumulative_months":12,
                    "streak_months":null,"duration_months":6,
                    "message":{{"text":"Love the stream! 🎉 FevziGG","emotes":[]}}}})",
                         kBroadcaster));
  EXPECT_EQ(resub.at("months"), 12);
  EXPECT_EQ(resub.at("tier"), "3000");
  EXPECT_EQ(resub.at("message"), "Love the stream! 🎉 FevziGG");
}

TEST(EventSubMappingTest, AGiftsRecipientIsNotCountedAgain) {
  Mapping mapping = map_notification(
      "channel.subscribe",
      json::parse(
          fmt::format(R"({{"user_name":"Eve",{},"tier":"1000","is_gift":true}})", kBroadcaster))
          .as_object(),
      kMessageId, kSentAt, StreamIdFrom::kLogin);
  EXPECT_TRUE(std::holds_alternative<NotCounted>(mapping));
}

TEST(EventSubMappingTest, AnonymousCheersAndGiftsStayAnonymous) {
  json::object cheer = mapped(
      "channel.cheer",
      fmt::format(R"({{"is_anonymous":true,"user_id":null,"user_login":null,"user_name":null,{},
                    "message":"Cheer100 pogchamp","bits":100}})",
                  kBroadcaster));
  EXPECT_EQ(cheer.at("type"), "cheer");
  EXPECT_EQ(cheer.at("bits"), 100);
  EXPECT_EQ(cheer.at("anonymous"), true);
  EXPECT_FALSE(cheer.contains("user_name"));
  EXPECT_FALSE(cheer.contains("user_id"));
  EXPECT_EQ(cheer.at("message"), "Cheer100 pogchamp");

  json::object gift =
      mapped("channel.subscription.gift",
             fmt::format(R"({{"is_anonymous":true,"user_id":"9","user_name":"ghost",{},"total":2,
                    "tier":"1000"}})",
                         kBroadcaster));
  EXPECT_EQ(gift.at("anonymous"), true);
  EXPECT_FALSE(gift.contains("user_name"));
}

TEST(EventSubMappingTest, CharityAmountsAreExact) {
  struct Case {
    std::int64_t value, places;
    std::string_view currency, amount;
  };
  for (const Case& c :
       {Case{500, 2, "USD", "5"}, Case{1234, 2, "EUR", "12.34"}, Case{5, 2, "USD", "0.05"},
        Case{1234, 3, "KWD", "1.234"}, Case{700, 0, "JPY", "700"}, Case{1050, 2, "GBP", "10.5"}}) {
    // The charity types name the broadcaster broadcaster_* rather than broadcaster_user_*.
    json::object event =
        mapped("channel.charity_campaign.donate",
               fmt::format(R"({{"id":"d1","campaign_id":"c1","broadcaster_id":"1337",
                      "broadcaster_login":"cool_user","user_name":"Fay","charity_name":"Example",
                      "amount":{{"value":{},"decimal_places":{},"currency":"{}"}}}})",
                           c.value, c.places, c.currency));
    EXPECT_EQ(event.at("type"), "donation");
    EXPECT_EQ(event.at("stream_id"), "cool_user");
    EXPECT_EQ(event.at("amount").as_string(), c.amount) << c.value << "/" << c.places;
    EXPECT_EQ(event.at("currency").as_string(), c.currency);
  }
}

TEST(EventSubMappingTest, MissingPartsAreNamed) {
  struct Case {
    std::string_view type, event, field;
  };
  for (const Case& c : {
           Case{"channel.cheer", R"({"broadcaster_user_login":"x"})", "event.bits"},
           Case{"channel.cheer", R"({"broadcaster_user_login":"x","bits":"100"})", "event.bits"},
           Case{"channel.subscription.gift", R"({"broadcaster_user_login":"x"})", "event.total"},
           Case{"channel.charity_campaign.donate", R"({"broadcaster_login":"x"})", "event.amount"},
           Case{"channel.charity_campaign.donate",
                R"({"amount":{"value":-5,"decimal_places":2,"currency":"USD"}})",
                "event.amount.value"},
           Case{"channel.charity_campaign.donate",
                R"({"amount":{"value":5,"decimal_places":40,"currency":"USD"}})",
                "event.amount.decimal_places"},
           Case{"channel.follow", R"({"user_name":"Ann"})", "event.broadcaster_user_login"},
       }) {
    Mapping mapping = map_notification(c.type, json::parse(c.event).as_object(), kMessageId,
                                       kSentAt, StreamIdFrom::kLogin);
    auto* error = std::get_if<MappingError>(&mapping);
    ASSERT_NE(error, nullptr) << c.type << " " << c.event;
    EXPECT_EQ(error->field, c.field) << c.event;
  }
}

TEST(EventSubMappingTest, OtherTypesAreAcknowledgedNotCounted) {
  Mapping mapping = map_notification("channel.raid", json::parse(R"({"viewers":9})").as_object(),
                                     kMessageId, kSentAt, StreamIdFrom::kLogin);
  EXPECT_TRUE(std::holds_alternative<NotCounted>(mapping));
}

}  // namespace
}  // namespace sluice::twitch
