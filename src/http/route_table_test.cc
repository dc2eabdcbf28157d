#include "http/route_table.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace sluice::http {
namespace {

using beast_http::verb;

// Answers with the parameters it was handed, joined by '|'.
RouteHandler echo_parameters() {
  return [](Request&, PathParameters parameters) -> boost::asio::awaitable<Response> {
    std::string joined;
    for (const auto& parameter : parameters) joined += parameter + "|";
    Response response{beast_http::status::ok, 11};
    response.body() = joined;
    co_return response;
  };
}

Response dispatch(const RouteTable& table, verb method, std::string target, std::string key = {}) {
  Request request{method, target, 11};
  if (!key.empty()) request.set("X-API-Key", key);
  boost::asio::io_context io;
  auto answer = boost::asio::co_spawn(io, table.dispatch(request), boost::asio::use_future);
  io.run();
  return answer.get();
}

const std::vector<ApiKeyConfig> kKeys{{"reader", "read-key-0123456789", {"read"}}};

TEST(RouteTable, MatchesSegmentsAndHandsOverTheNamedOnes) {
  Authenticator open({});
  RouteTable table({{verb::get, "/a/{x}/b/{y}", Access::kOpen, echo_parameters()},
                    {verb::get, "/a/{x}", Access::kOpen, echo_parameters()}},
                   open);
  EXPECT_EQ(dispatch(table, verb::get, "/a/1/b/2?q=3").body(), "1|2|");
  EXPECT_EQ(dispatch(table, verb::get, "/a/one").body(), "one|");
  EXPECT_EQ(dispatch(table, verb::get, "/a/").result(), beast_http::status::not_found);
  EXPECT_EQ(dispatch(table, verb::get, "/a/1/b").result(), beast_http::status::not_found);
  EXPECT_EQ(dispatch(table, verb::get, "/a/1/b/2/c").result(), beast_http::status::not_found);
  EXPECT_EQ(dispatch(table, verb::get, "/").result(), beast_http::status::not_found);
}

TEST(RouteTable, AnotherMethodIs405WithTheMethodsThePathTakes) {
  Authenticator open({});
  RouteTable table({{verb::get, "/r/{id}", Access::kOpen, echo_parameters()},
                    {verb::delete_, "/r/{id}", Access::kOpen, echo_parameters()}},
                   open);
  const Response refused = dispatch(table, verb::post, "/r/1");
  EXPECT_EQ(refused.result(), beast_http::status::method_not_allowed);
  EXPECT_EQ(refused[beast_http::field::allow], "GET, DELETE");
}

TEST(RouteTable, AuthorisationFollowsTheDeclarationAndFailsClosed) {
  Authenticator keys(kKeys);
  RouteTable table({{verb::get, "/open", Access::kOpen, echo_parameters()},
                    {verb::get, "/read", Access::kRead, echo_parameters()},
                    {verb::get, "/admin", Access::kAdmin, echo_parameters()},
                    {verb::get, "/forgotten", Access::kUndeclared, echo_parameters()}},
                   keys);
  EXPECT_EQ(dispatch(table, verb::get, "/open").result(), beast_http::status::ok);
  EXPECT_EQ(dispatch(table, verb::get, "/read").result(), beast_http::status::unauthorized);
  EXPECT_EQ(dispatch(table, verb::get, "/read", "read-key-0123456789").result(),
            beast_http::status::ok);
  EXPECT_EQ(dispatch(table, verb::get, "/admin", "read-key-0123456789").result(),
            beast_http::status::forbidden);
  EXPECT_EQ(dispatch(table, verb::get, "/read?code=read-key-0123456789").result(),
            beast_http::status::ok);
  // A route that declares nothing is refused to everyone, with keys or without any.
  EXPECT_EQ(dispatch(table, verb::get, "/forgotten", "read-key-0123456789").result(),
            beast_http::status::forbidden);
  Authenticator open({});
  RouteTable unguarded({{verb::get, "/forgotten", Access::kUndeclared, echo_parameters()}}, open);
  EXPECT_EQ(dispatch(unguarded, verb::get, "/forgotten").result(), beast_http::status::forbidden);
}

}  // namespace
}  // namespace sluice::http
