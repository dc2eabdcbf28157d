// Walks the declared route table of a node assembled as `sluice serve` assembles it, and calls
// every route over HTTP: each declares who may call it, and each guarded one refuses a request
// without a key (401) and one whose key lacks its scope (403).

#include <gtest/gtest.h>

#include <regex>

#include "tests/integration/in_process_server.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

constexpr const char* kIngestKey = "ingest-only-key-0123456789";

TEST(RoutesTest, EveryRouteDeclaresItsAccessAndRefusesCallersWithout) {
  testing::TempDirectory directory;
  testing::InProcessServer host(directory.str(), {{"keys.bot.secret", kIngestKey},
                                                  {"keys.bot.scopes", "ingest"},
                                                  {"pipeline.paused", "true"},
                                                  // The connectors' routes are walked too.
                                                  {"twitch.secret", "routes-test-eventsub"}});
  host.start();
  auto anonymous = host.client();
  auto ingest_only = std::move(http::Client::create(host.url(), kIngestKey).value());
  std::size_t guarded = 0;
  std::size_t open = 0;
  for (const http::Route& route : host.routes().routes()) {
    const std::string target = std::regex_replace(route.pattern, std::regex("\\{[^}]*\\}"), "x-1");
    const std::string name =
        std::string(boost::beast::http::to_string(route.method)) + " " + target;
    ASSERT_NE(route.access, http::Access::kUndeclared) << name;
    auto without_key = anonymous->request(route.method, target);
    ASSERT_TRUE(without_key.ok()) << name;
    auto with_ingest = ingest_only->request(route.method, target);
    ASSERT_TRUE(with_ingest.ok()) << name;
    switch (route.access) {
      case http::Access::kOpen:
        ++open;
        EXPECT_NE(without_key->status, 401u) << name;
        break;
      case http::Access::kIngest:
        ++guarded;
        EXPECT_EQ(without_key->status, 401u) << name;
        EXPECT_NE(with_ingest->status, 401u) << name;
        EXPECT_NE(with_ingest->status, 403u) << name;
        break;
      default:
        ++guarded;
        EXPECT_EQ(without_key->status, 401u) << name;
        EXPECT_EQ(with_ingest->status, 403u) << name << ": " << with_ingest->body;
        break;
    }
  }
  EXPECT_EQ(open, 2u);  // /healthz, and Twitch's EventSub (each message signed)
  EXPECT_GE(guarded, 20u);
}

}  // namespace
}  // namespace sluice
