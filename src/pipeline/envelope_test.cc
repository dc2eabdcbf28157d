#include "pipeline/envelope.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sluice::pipeline {
namespace {

TEST(EnvelopeTest, OpensWhatMakeEnvelopeWrites) {
  const std::string event = R"({"event_id":"e-1","stream_id":"s","type":"cheer","bits":5})";
  const Micros received = 1'795'000'000'123'000;
  const std::string text = make_envelope(event, received);
  // It is JSON, for people reading an instance's input.
  const auto parsed = boost::json::parse(text);
  EXPECT_EQ(boost::json::serialize(parsed.at("event")), event);
  const auto opened = open_envelope(text);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->event_json, event);
  EXPECT_EQ(opened->received_at, received);
}

// The event itself is not checked here (read_event_facts does that), only the envelope's frame.
TEST(EnvelopeTest, RefusesAnythingElse) {
  for (const std::string_view text :
       {"", "{}", "null", R"({"event":{},"received_at":"2026-11-24T06:43:46.123Z"})",
        R"({"received_at":"yesterday","event":{}})",
        R"({"received_at":"2026-11-24T06:43:46.123Z","other":{}})",
        R"({"received_at":"2026-11-24T06:43:46.123Z)"}) {
    EXPECT_FALSE(open_envelope(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace sluice::pipeline
