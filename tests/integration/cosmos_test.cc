// The Cosmos DB sink against the emulator, read back with Microsoft's @azure/cosmos: the
// `events` and `stats` containers end equal to what sluice's own API says, after a SIGKILL, an
// outage, or a newer stats document written by someone else.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/support/cosmos_emulator.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;

class CosmosTest : public ::testing::Test {
 protected:
  void start() { start(cosmos_.connection_string()); }
  void start(const std::string& connection_string) {
    server_ = std::make_unique<testing::ServerProcess>(
        directory_.str(), std::vector<std::string>{"--set", "azure.cosmos=" + connection_string});
    ASSERT_TRUE(server_->started()) << server_->log();
    client_ = http::Client::create(server_->url()).value();
  }

  void post(const std::string& body) {
    auto response = client_->post("/api/events", body);
    ASSERT_TRUE(response.ok());
    ASSERT_EQ(response->status, 202u) << response->body;
  }
  json::value get(const std::string& target) {
    auto response = client_->get(target);
    if (!response.ok() || response->status != 200) return nullptr;
    return json::parse(response->body);
  }
  json::value cosmos_report() {
    json::value queue = get("/api/queue");
    return queue.is_null() ? queue : queue.at("azure").at("cosmos");
  }

  // Documents of a container by id.
  std::map<std::string, json::object> in_cosmos(const std::string& container) {
    std::map<std::string, json::object> documents;
    const json::value all = json::parse(cosmos_.read(container));
    for (const auto& document : all.as_array()) {
      documents[std::string(document.at("id").as_string())] = document.as_object();
    }
    return documents;
  }

  // Whether Cosmos holds exactly what sluice says of `streams`: each stats document as GET
  // …/stats shows it, with its id and version, and each event document as GET …/events lists it.
  bool cosmos_equals_sluice(const std::vector<std::string>& streams, std::string& difference) {
    std::map<std::string, json::object> stats = in_cosmos("stats");
    std::map<std::string, json::object> events = in_cosmos("events");
    std::size_t expected_events = 0;
    for (const auto& stream : streams) {
      json::value view = get("/api/streams/" + stream + "/stats");
      if (view.is_null()) return (difference = "no stats for " + stream), false;
      json::object expected = view.as_object();
      expected["id"] = stream;
      expected["version"] = expected.at("events");
      if (stats[stream] != expected) {
        difference = json::serialize(stats[stream]) + " ≠ " + json::serialize(expected);
        return false;
      }
      json::value page = get("/api/streams/" + stream + "/events?limit=1000");
      for (const auto& item : page.at("items").as_array()) {
        ++expected_events;
        const std::string id(item.at("id").as_string());
        if (events[id] != item.as_object()) {
          difference = "event " + id + ": " + json::serialize(events[id]);
          return false;
        }
      }
    }
    if (events.size() != expected_events) {
      difference = fmt::format("{} event documents, not {}", events.size(), expected_events);
      return false;
    }
    return true;
  }
  void expect_cosmos_equals_sluice(const std::vector<std::string>& streams) {
    std::string difference;
    EXPECT_TRUE(testing::eventually([&] { return cosmos_equals_sluice(streams, difference); },
                                    std::chrono::minutes(3)))
        << difference << "\n"
        << server_->log();
  }

  testing::CosmosEmulator cosmos_;
  testing::TempDirectory directory_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

std::string batch(int from, int to, int streams) {
  json::array events;
  for (int i = from; i < to; ++i) {
    const std::string stream = fmt::format("s{}", i % streams);
    switch (i % 4) {
      case 0:
        events.push_back({{"event_id", fmt::format("e{}", i)},
                          {"stream_id", stream},
                          {"type", "follower"},
                          {"user_name", "ünï " + std::to_string(i)}});
        break;
      case 1:
        events.push_back({{"event_id", fmt::format("e{}", i)},
                          {"stream_id", stream},
                          {"type", "cheer"},
                          {"bits", i}});
        break;
      case 2:
        events.push_back({{"event_id", fmt::format("e{}", i)},
                          {"stream_id", stream},
                          {"type", "donation"},
                          {"amount", "1.25"},
                          {"currency", "EUR"}});
        break;
      default:
        events.push_back({{"event_id", fmt::format("e{}", i)},
                          {"stream_id", stream},
                          {"type", "subscription"},
                          {"tier", "1000"},
                          {"gifted", true}});
    }
  }
  return json::serialize(events);
}

TEST_F(CosmosTest, EventsAndStatsInCosmosAreWhatSluiceSays) {
  start();
  post(batch(0, 40, 3));
  post(batch(0, 10, 3));  // sent again: counted once, and once in Cosmos
  expect_cosmos_equals_sluice({"s0", "s1", "s2"});
  EXPECT_EQ(get("/api/streams/s0/stats").at("events").as_int64(), 14);
  EXPECT_EQ(cosmos_report().at("outbox_depth"), 0);
}

TEST_F(CosmosTest, AStatsDocumentNeverGoesBackwards) {
  start();
  post(batch(0, 4, 1));
  expect_cosmos_equals_sluice({"s0"});
  // Another writer has put a later state there (a version beyond sluice's): sluice leaves it.
  cosmos_.upsert("stats", R"({"id":"s0","stream_id":"s0","events":100,"version":100})");
  post(batch(4, 8, 1));
  ASSERT_TRUE(testing::eventually([&] {
    json::value report = cosmos_report();
    return get("/api/streams/s0/stats").at("events") == 8 && report.at("outbox_depth") == 0;
  }));
  EXPECT_EQ(in_cosmos("stats")["s0"].at("version"), 100);
  EXPECT_EQ(in_cosmos("events").size(), 8u);
}

TEST_F(CosmosTest, SigkillWhileWritingLosesAndDoublesNothing) {
  start();
  for (int i = 0; i < 3000; i += 500) post(batch(i, i + 500, 5));
  ASSERT_TRUE(testing::eventually([&] {
    json::value report = cosmos_report();
    return !report.is_null() && report.at("written").as_int64() >= 300;
  }));
  server_->kill_hard();
  const std::size_t at_kill = in_cosmos("events").size();
  ASSERT_LT(at_kill, 3000u) << "everything was in Cosmos before the kill: it tested nothing";
  server_.reset();
  start();
  expect_cosmos_equals_sluice({"s0", "s1", "s2", "s3", "s4"});
  EXPECT_EQ(in_cosmos("events").size(), 3000u);
}

// Cosmos stops answering while events arrive: writes time out, wait in the outbox, and reach
// Cosmos once it answers again.
TEST_F(CosmosTest, AnOutageChangesNothingInTheEnd) {
  start();
  post(batch(0, 20, 2));
  expect_cosmos_equals_sluice({"s0", "s1"});
  cosmos_.pause();
  post(batch(20, 200, 2));
  ASSERT_TRUE(testing::eventually([&] {
    json::value report = cosmos_report();
    return report.at("failures").as_int64() >= 1 && report.at("outbox_depth").as_int64() > 0;
  }));
  cosmos_.resume();
  expect_cosmos_equals_sluice({"s0", "s1"});
}

// Cosmos answers 429 (its request rate is used up), for a request or inside a batch: sluice waits
// as long as it is told, sends the request again, and that is no failure.
TEST_F(CosmosTest, ThrottlingIsWaitedOutAsToldAndChangesNothing) {
  start(cosmos_.throttled_connection_string(3, 40));
  for (int i = 0; i < 1000; i += 250) post(batch(i, i + 250, 4));
  expect_cosmos_equals_sluice({"s0", "s1", "s2", "s3"});
  const std::string log = cosmos_.throttle_log();
  EXPECT_NE(log.find("throttled\n"), std::string::npos) << "no request throttled: tested nothing";
  EXPECT_NE(log.find("throttled batch"), std::string::npos) << "no batch throttled: tested nothing";
  EXPECT_EQ(log.find("early"), std::string::npos) << "a request came back before its retry-after";
  const json::value report = cosmos_report();
  EXPECT_GE(report.at("throttled").as_int64(), 1);
  EXPECT_EQ(report.at("failures"), 0);
}

TEST(CosmosSettingsTest, ABadConnectionStringStopsTheServerNamingTheKeyNotTheSecret) {
  testing::TempDirectory directory;
  const std::string secret = "c2VjcmV0LWtleS1ieXRlcw==";
  for (const std::string& setting :
       {"azure.cosmos=AccountKey=" + secret,
        "azure.cosmos=AccountEndpoint=ftp://x/;AccountKey=" + secret,
        "azure.cosmos=AccountEndpoint=https://x/;AccountKey=" + secret + "%",
        std::string("azure.cosmos_database=a/b")}) {
    auto result = testing::run_sluice(
        {"serve", "--listen", "127.0.0.1:0", "--data", directory.str(), "--set", setting});
    EXPECT_EQ(result.exit.code, 2) << setting;
    EXPECT_NE(result.output.find(setting.substr(0, setting.find('=')) + ":"), std::string::npos)
        << result.output;
    EXPECT_EQ(result.output.find(secret.substr(0, 12)), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace sluice
