#include "http/json_response.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "http/beast_serialized.h"
#include "http/management_api.h"

namespace sluice::http {
namespace {

TEST(WireFormat, MatchesBeastForTheAnswersTheServerGives) {
  Response accepted = check_status_response({"http://localhost:7070", ""}, "e1", false);
  accepted.set(beast_http::field::server, "sluice");
  accepted.keep_alive(true);

  Response refused = error_response(beast_http::status::payload_too_large, "body_too_large",
                                    "the body may be at most 1048576 bytes");
  refused.set(beast_http::field::retry_after, "1");
  refused.keep_alive(false);

  Response empty{beast_http::status::accepted, 11};
  empty.prepare_payload();

  Response custom_reason = status_response(unavailable("the engine is stopping"));
  custom_reason.reason("Busy Right Now");

  for (const Response* response : {&accepted, &refused, &empty, &custom_reason}) {
    EXPECT_EQ(wire_format(*response), beast_serialized(*response));
  }
}

TEST(WireFormat, PutsTheStatusLineFieldsAndBodyInOrder) {
  Response response =
      json_response(beast_http::status::not_found, boost::json::object{{"missing", true}});
  response.keep_alive(false);
  EXPECT_EQ(wire_format(response),
            "HTTP/1.1 404 Not Found\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 16\r\n"
            "Connection: close\r\n"
            "\r\n"
            "{\"missing\":true}");
}

TEST(CheckStatus, IsTheDurableFunctionsPayloadAsJson) {
  const Response response = check_status_response({"http://localhost:7070", ""}, "ev-1:a", true);
  EXPECT_EQ(response.result(), beast_http::status::accepted);
  const std::string base = "http://localhost:7070/runtime/webhooks/durabletask/instances/ev-1:a";
  EXPECT_EQ(response[beast_http::field::location], base);
  const boost::json::value body = boost::json::parse(response.body());
  EXPECT_EQ(body, (boost::json::object{{"id", "ev-1:a"},
                                       {"statusQueryGetUri", base},
                                       {"sendEventPostUri", base + "/raiseEvent/{eventName}"},
                                       {"terminatePostUri", base + "/terminate?reason={text}"},
                                       {"suspendPostUri", base + "/suspend?reason={text}"},
                                       {"resumePostUri", base + "/resume?reason={text}"},
                                       {"restartPostUri", base + "/restart"},
                                       {"purgeHistoryDeleteUri", base},
                                       {"duplicate", true}}));
  const UriBase plain{"http://h", ""};
  EXPECT_EQ(boost::json::parse(check_status_body(plain, "x")), check_status_object(plain, "x"));
  EXPECT_FALSE(check_status_object(plain, "x").contains("duplicate"));
}

TEST(CheckStatus, EveryUriCarriesAKeyGivenInTheUrl) {
  const UriBase keyed{"http://h", "code=k%2Bey"};
  const std::string base = "http://h/runtime/webhooks/durabletask/instances/x";
  const boost::json::value body = boost::json::parse(check_status_body(keyed, "x"));
  EXPECT_EQ(body, check_status_object(keyed, "x"));
  EXPECT_EQ(body.at("statusQueryGetUri").as_string(), base + "?code=k%2Bey");
  EXPECT_EQ(body.at("sendEventPostUri").as_string(), base + "/raiseEvent/{eventName}?code=k%2Bey");
  EXPECT_EQ(body.at("terminatePostUri").as_string(), base + "/terminate?reason={text}&code=k%2Bey");
  EXPECT_EQ(body.at("restartPostUri").as_string(), base + "/restart?code=k%2Bey");
  EXPECT_EQ(check_status_response(keyed, "x")[beast_http::field::location], base + "?code=k%2Bey");
}

TEST(CheckStatus, EscapesWhatJsonMust) {
  const boost::json::value body =
      boost::json::parse(check_status_body({"http://h", ""}, "a\"b\\c"));
  EXPECT_EQ(body.at("id"), "a\"b\\c");
  EXPECT_EQ(body.at("purgeHistoryDeleteUri"),
            "http://h/runtime/webhooks/durabletask/instances/a\"b\\c");
}

}  // namespace
}  // namespace sluice::http
