#include "pipeline/event.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sluice::pipeline {
namespace {

namespace json = boost::json;

class EventParserTest : public ::testing::Test {
 protected:
  std::variant<ParsedBody, EventError> parse(std::string body,
                                             BodyFormat format = BodyFormat::kJson,
                                             std::size_t max_events = 100) {
    return parse_events(body, format, {max_events}, ids_);
  }
  ParsedBody accepted(std::string body, BodyFormat format = BodyFormat::kJson) {
    auto result = parse(std::move(body), format);
    if (auto* error = std::get_if<EventError>(&result)) {
      ADD_FAILURE() << error->code << " " << error->field << ": " << error->message;
      return {};
    }
    return std::get<ParsedBody>(std::move(result));
  }
  EventError refused(std::string body, BodyFormat format = BodyFormat::kJson,
                     std::size_t max_events = 100) {
    auto result = parse(body, format, max_events);
    if (!std::holds_alternative<EventError>(result)) {
      ADD_FAILURE() << "accepted: " << body;
      return {};
    }
    return std::get<EventError>(result);
  }

  ManualClock clock_{1'700'000'000'000'000};
  IdGenerator ids_{clock_, 1};
};

TEST_F(EventParserTest, AcceptsEveryEventType) {
  for (
      const char* body : {
          R"({"event_id":"f1","stream_id":"s1","type":"follower","user_name":"ana"})",
          R"({"stream_id":"s1","type":"subscription","tier":"2000","gifted":true,"months":3})",
          R"({"stream_id":"s1","type":"subscription","tier":3000})",
          R"({"stream_id":"s1","type":"donation","amount":"5.00","currency":"USD","message":"hi\nthere"})",
          R"({"stream_id":"s1","type":"donation","amount":12.5,"currency":"EUR"})",
          R"({"stream_id":"s1","type":"donation","amount":500,"currency":"JPY"})",
          R"({"stream_id":"s1","type":"cheer","bits":100,"occurred_at":"2026-11-24T18:30:00Z"})",
          R"({"stream_id":"s1","type":"follower","user_id":null})",
      }) {
    ParsedBody parsed = accepted(body);
    ASSERT_EQ(parsed.events.size(), 1u) << body;
    EXPECT_TRUE(parsed.single);
  }
}

TEST_F(EventParserTest, AGiftCountsAsManySubscriptionsAsItGave) {
  ParsedBody gift = accepted(
      R"({"event_id":"g1","stream_id":"s1","type":"subscription","gifted":true,"count":5})");
  ASSERT_EQ(gift.events.size(), 1u);
  auto facts = read_event_facts(gift.events[0].json);
  ASSERT_TRUE(facts.ok()) << facts.status().to_string();
  EXPECT_EQ(facts->count, 5);
  EXPECT_TRUE(facts->gifted);

  // Without a count, and as stored before `count` was checked, a subscription is one.
  for (const char* stored :
       {R"({"event_id":"g2","stream_id":"s1","type":"subscription"})",
        R"({"event_id":"g3","stream_id":"s1","type":"subscription","count":"x"})"}) {
    auto one = read_event_facts(stored);
    ASSERT_TRUE(one.ok()) << stored;
    EXPECT_EQ(one->count, 1) << stored;
  }
}

TEST_F(EventParserTest, KeepsUnknownFieldsAndAddsGeneratedIds) {
  ParsedBody body = accepted(R"( {"stream_id":"s1", "type":"follower", "extra":{"a":[1,2]}} )");
  const ParsedEvent& event = body.events.at(0);
  EXPECT_EQ(event.event_id.size(), 36u);
  json::value stored = json::parse(event.json);
  EXPECT_EQ(stored.at("event_id").as_string(), event.event_id);
  EXPECT_EQ(stored.at("extra"), json::parse(R"({"a":[1,2]})"));

  ParsedBody given = accepted(R"({"event_id":"mine","stream_id":"s1","type":"follower"})");
  EXPECT_EQ(given.events.at(0).event_id, "mine");
  EXPECT_EQ(given.events.at(0).json, R"({"event_id":"mine","stream_id":"s1","type":"follower"})");
}

TEST_F(EventParserTest, AcceptsArraysAndNdjson) {
  ParsedBody array = accepted(
      R"([{"stream_id":"s1","type":"follower"},{"stream_id":"s2","type":"cheer","bits":5}])");
  EXPECT_FALSE(array.single);
  EXPECT_EQ(array.events.size(), 2u);

  ParsedBody lines = accepted(
      "{\"stream_id\":\"s1\",\"type\":\"follower\"}\r\n\n  "
      "\n{\"stream_id\":\"s2\",\"type\":\"follower\"}",
      BodyFormat::kNdjson);
  EXPECT_FALSE(lines.single);
  EXPECT_EQ(lines.events.size(), 2u);
}

struct Refusal {
  const char* body;
  const char* code;
  const char* field;
};

TEST_F(EventParserTest, RefusesBadEventsNamingTheField) {
  const Refusal refusals[] = {
      {R"({"type":"follower"})", "missing_field", "stream_id"},
      {R"({"stream_id":"s1"})", "missing_field", "type"},
      {R"({"stream_id":"s 1","type":"follower"})", "invalid_field", "stream_id"},
      {R"({"stream_id":"s1","type":"raid"})", "invalid_field", "type"},
      {R"({"stream_id":7,"type":"follower"})", "invalid_field", "stream_id"},
      {R"({"event_id":"","stream_id":"s1","type":"follower"})", "invalid_field", "event_id"},
      {R"({"stream_id":"s1","type":"donation","currency":"USD"})", "missing_field", "amount"},
      {R"({"stream_id":"s1","type":"donation","amount":"5"})", "missing_field", "currency"},
      {R"({"stream_id":"s1","type":"donation","amount":"5.001","currency":"USD"})", "invalid_field",
       "amount"},
      {R"({"stream_id":"s1","type":"donation","amount":0.1,"currency":"JPY"})", "invalid_field",
       "amount"},
      {R"({"stream_id":"s1","type":"donation","amount":-5,"currency":"USD"})", "invalid_field",
       "amount"},
      {R"({"stream_id":"s1","type":"donation","amount":1e300,"currency":"USD"})", "invalid_field",
       "amount"},
      {R"({"stream_id":"s1","type":"donation","amount":"5","currency":"ABC"})", "invalid_field",
       "currency"},
      {R"({"stream_id":"s1","type":"donation","amount":true,"currency":"USD"})", "invalid_field",
       "amount"},
      {R"({"stream_id":"s1","type":"cheer"})", "missing_field", "bits"},
      {R"({"stream_id":"s1","type":"cheer","bits":0})", "invalid_field", "bits"},
      {R"({"stream_id":"s1","type":"cheer","bits":1.5})", "invalid_field", "bits"},
      {R"({"stream_id":"s1","type":"cheer","bits":18446744073709551615})", "invalid_field", "bits"},
      {R"({"stream_id":"s1","type":"subscription","tier":"4000"})", "invalid_field", "tier"},
      {R"({"stream_id":"s1","type":"subscription","gifted":"yes"})", "invalid_field", "gifted"},
      {R"({"stream_id":"s1","type":"subscription","gifted":true,"count":0})", "invalid_field",
       "count"},
      {R"({"stream_id":"s1","type":"subscription","gifted":true,"count":1001})", "invalid_field",
       "count"},
      {R"({"stream_id":"s1","type":"subscription","gifted":true,"count":"5"})", "invalid_field",
       "count"},
      {R"({"stream_id":"s1","type":"subscription","count":5})", "invalid_field", "count"},
      {R"({"stream_id":"s1","type":"subscription","gifted":false,"count":5})", "invalid_field",
       "count"},
      {R"({"stream_id":"s1","type":"follower","occurred_at":"yesterday"})", "invalid_field",
       "occurred_at"},
      {R"({"stream_id":"s1","type":"follower","user_name":"a\u0000b"})", "invalid_field",
       "user_name"},
      {R"({"stream_id":"s1","type":"follower","type":"cheer"})", "invalid_field", "type"},
      {R"([{"stream_id":"s1","type":"follower"},7])", "invalid_event", ""},
      {R"("follower")", "invalid_event", ""},
      {R"({"stream_id":"s1",)", "malformed_json", ""},
      {"{\"stream_id\":\"s1\",\"type\":\"follower\",\"x\":\"\xff\"}", "malformed_json", ""},
      {"[]", "empty_batch", ""},
  };
  for (const auto& refusal : refusals) {
    EventError error = refused(refusal.body);
    EXPECT_EQ(error.code, refusal.code) << refusal.body << " → " << error.message;
    EXPECT_EQ(error.field, refusal.field) << refusal.body;
  }
}

TEST_F(EventParserTest, LimitsLengthsAndDepth) {
  const std::string long_id(129, 'a');
  EXPECT_EQ(refused(R"({"stream_id":")" + long_id + R"(","type":"follower"})").field, "stream_id");
  const std::string long_message(501, 'm');
  EXPECT_EQ(
      refused(R"({"stream_id":"s","type":"follower","message":")" + long_message + "\"}").field,
      "message");
  // 500 characters of 2-byte UTF-8 is fine: limits count characters, not bytes.
  std::string wide_message;
  for (int i = 0; i < 500; ++i) wide_message += "\xc3\xa9";
  accepted(R"({"stream_id":"s","type":"follower","message":")" + wide_message + "\"}");
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(refused(R"({"stream_id":"s","type":"follower","x":)" + deep + "}").code,
            "malformed_json");
}

TEST_F(EventParserTest, ReportsTheIndexOfTheBadEventInABatch) {
  EventError error = refused(
      R"([{"stream_id":"s1","type":"follower"},{"stream_id":"s1","type":"cheer","bits":-1}])");
  EXPECT_EQ(error.index, 1u);
  EXPECT_EQ(error.field, "bits");

  error = refused("{\"stream_id\":\"s1\",\"type\":\"follower\"}\n\n{\"stream_id\":",
                  BodyFormat::kNdjson);
  EXPECT_EQ(error.code, "malformed_json");
  EXPECT_EQ(error.index, 1u);
  EXPECT_NE(error.message.find("line 3"), std::string::npos);
}

TEST_F(EventParserTest, EnforcesTheBatchLimit) {
  std::string three = R"([{"stream_id":"s","type":"follower"},{"stream_id":"s","type":"follower"},)"
                      R"({"stream_id":"s","type":"follower"}])";
  EXPECT_EQ(refused(three, BodyFormat::kJson, 2).code, "batch_too_large");
  std::string lines = "{\"stream_id\":\"s\",\"type\":\"follower\"}\n";
  EXPECT_EQ(refused(lines + lines + lines, BodyFormat::kNdjson, 2).code, "batch_too_large");
  EXPECT_EQ(refused("\n \n", BodyFormat::kNdjson).code, "empty_batch");
}

TEST(EventIdTest, Rule) {
  EXPECT_TRUE(is_valid_id("abc-DEF_1.2:3"));
  EXPECT_TRUE(is_valid_id(std::string(128, 'x')));
  EXPECT_FALSE(is_valid_id(std::string(129, 'x')));
  EXPECT_FALSE(is_valid_id(""));
  EXPECT_FALSE(is_valid_id("a/b"));
  EXPECT_FALSE(is_valid_id(std::string("a\0b", 3)));
}

}  // namespace
}  // namespace sluice::pipeline
