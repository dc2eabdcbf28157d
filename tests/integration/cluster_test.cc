// Several nodes on one PostgreSQL database (eight partitions, leases of 2 s): one holds the
// partitions and the others stand by. A holder that is killed is replaced within its lease and a
// little more; one that is paused past its lease is replaced, and when it wakes it commits
// nothing: the fence in the database refuses it, and it stops. Every acknowledged event is
// counted exactly once throughout.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "pipeline/traffic.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"
#include "tests/support/test_storage.h"

namespace sluice {
namespace {

namespace json = boost::json;
using testing::ServerProcess;

json::value get_json(const ServerProcess& node, const std::string& target,
                     unsigned expected_status = 200) {
  auto client = http::Client::create(node.url());
  if (!client.ok()) throw std::runtime_error(client.status().to_string());
  auto response = (*client)->get(target);
  if (!response.ok()) throw std::runtime_error(response.status().to_string());
  EXPECT_EQ(response->status, expected_status) << target << ": " << response->body;
  return json::parse(response->body);
}

// Posts one NDJSON batch to `node`; the HTTP status, or 0 when the node cannot be reached.
unsigned post(const ServerProcess& node, const std::string& body) {
  auto client = http::Client::create(node.url());
  if (!client.ok()) return 0;
  auto response = (*client)->post("/api/events", body, "application/x-ndjson");
  return response.ok() ? response->status : 0;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::on_postgres()) GTEST_SKIP() << "several nodes share a PostgreSQL database";
  }

  std::unique_ptr<ServerProcess> start_node() {
    auto node = std::make_unique<ServerProcess>(
        data_.str(),
        std::vector<std::string>{"--set", "engine.partitions=8", "--set", "storage.lease_ms=2000"},
        testing::sluice_binary(), /*standing_by=*/true);
    EXPECT_TRUE(node->started()) << node->log();
    return node;
  }

  // Delivers `body` to whichever live node takes it (standing-by nodes answer 503), trying them
  // in turn: the same event ids each time, so a batch taken twice is counted once.
  void deliver(const std::vector<ServerProcess*>& nodes, const std::string& body) {
    const bool delivered = testing::eventually(
        [&] {
          for (ServerProcess* node : nodes) {
            if (post(*node, body) == 202) return true;
          }
          return false;
        },
        std::chrono::seconds(60));
    ASSERT_TRUE(delivered) << "no node took a batch for a minute";
  }

  // The one of `nodes` that serves, once one does.
  ServerProcess* holder(const std::vector<ServerProcess*>& nodes) {
    ServerProcess* found = nullptr;
    testing::eventually(
        [&] {
          for (ServerProcess* node : nodes) {
            if (node->serving()) found = node;
          }
          return found != nullptr;
        },
        std::chrono::seconds(30));
    return found;
  }

  void wait_drained(const ServerProcess& node) {
    const bool drained = testing::eventually(
        [&] {
          const json::value queue = get_json(node, "/api/queue");
          const json::value running = get_json(
              node, "/runtime/webhooks/durabletask/instances?runtimeStatus=Pending,Running&top=1");
          return queue.at("depth") == 0 && running.as_array().empty();
        },
        std::chrono::minutes(3));
    EXPECT_TRUE(drained) << "the pipeline did not drain";
  }

  void expect_exact(const ServerProcess& node, const pipeline::Traffic& traffic) {
    for (const auto& [stream, want] : traffic.expected()) {
      const auto differences =
          pipeline::compare_stats(want, get_json(node, "/api/streams/" + stream + "/stats"));
      EXPECT_TRUE(differences.empty()) << stream << ": " << differences.front();
    }
    EXPECT_TRUE(get_json(node, "/runtime/webhooks/durabletask/instances?runtimeStatus=Failed")
                    .as_array()
                    .empty());
  }

  // Every partition held by `node` at an epoch above `above`.
  void expect_holds_all(const ServerProcess& node, std::int64_t above) {
    const json::value cluster = get_json(node, "/api/cluster");
    EXPECT_EQ(cluster.at("partition_count"), 8);
    const json::array& partitions = cluster.at("partitions").as_array();
    ASSERT_EQ(partitions.size(), 8u);
    const json::value owner = partitions[0].at("owner");
    for (const auto& partition : partitions) {
      EXPECT_EQ(partition.at("owner"), owner);
      EXPECT_GT(partition.at("epoch").as_int64(), above);
    }
    bool owner_listed = false;
    for (const auto& listed : cluster.at("nodes").as_array()) {
      if (listed.at("name") == owner) {
        owner_listed = true;
        EXPECT_EQ(listed.at("live"), true);
        EXPECT_EQ(listed.at("partitions").as_array().size(), 8u);
        EXPECT_EQ(json::value_to<std::string>(listed.at("address")),
                  "127.0.0.1:" + std::to_string(node.port()));
      }
    }
    EXPECT_TRUE(owner_listed) << json::serialize(cluster);
  }

  testing::TempDirectory data_;
};

std::string batch(pipeline::Traffic& traffic, int events) {
  std::string body;
  for (int i = 0; i < events; ++i) body += traffic.next() + "\n";
  return body;
}

TEST_F(ClusterTest, ASigkilledHoldersPartitionsMoveAndNothingIsLostOrDoubled) {
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  pipeline::Traffic traffic("kill-", "stream-", 8, seed);
  auto first = start_node();
  ASSERT_TRUE(first->serving()) << first->log();
  auto second = start_node();
  auto third = start_node();
  EXPECT_FALSE(second->serving());
  EXPECT_FALSE(third->serving());
  EXPECT_EQ(post(*second, "{}\n"), 503u) << "a standing-by node answered as if it served";

  std::vector<ServerProcess*> nodes = {first.get(), second.get(), third.get()};
  for (int round = 0; round < 30; ++round) {
    deliver(nodes, batch(traffic, 100));
    if (round == 10) {
      // While it works through what it took: some of it committed, some of it in flight.
      first->kill_hard();
      nodes.erase(nodes.begin());
    }
  }
  ServerProcess* next = holder(nodes);
  ASSERT_NE(next, nullptr) << "nobody took over";
  EXPECT_NE(next->log().find("took over 8 partitions"), std::string::npos) << next->log();
  wait_drained(*next);
  expect_exact(*next, traffic);
  expect_holds_all(*next, 1);
}

TEST_F(ClusterTest, AHolderPausedPastItsLeaseIsFencedWhenItWakes) {
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  pipeline::Traffic traffic("pause-", "stream-", 8, seed);
  auto first = start_node();
  ASSERT_TRUE(first->serving()) << first->log();
  auto second = start_node();
  for (int round = 0; round < 10; ++round) deliver({first.get()}, batch(traffic, 200));

  first->signal(SIGSTOP);
  // Taken by the kernel now, read by the paused node only when it wakes. Any node takes ingest:
  // if it acknowledges the batch, the node that holds the partitions processes it.
  pipeline::Traffic late("late-", "late-stream-", 2, seed);
  auto late_answer = std::async(std::launch::async, [&] { return post(*first, batch(late, 50)); });

  ServerProcess* next = holder({second.get()});
  ASSERT_EQ(next, second.get()) << "nobody took over from the paused node\n" << second->log();
  for (int round = 0; round < 5; ++round) deliver({second.get()}, batch(traffic, 200));

  first->signal(SIGCONT);
  const unsigned late_status = late_answer.get();
  const bool stopped = testing::eventually(
      [&] { return first->log().find("stopped") != std::string::npos; }, std::chrono::seconds(30));
  EXPECT_TRUE(stopped) << first->log();
  if (!stopped) first->kill_hard();
  const testing::ExitResult exit = first->wait();
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.code, 1) << "a fenced node exits with a failure, for its supervisor";
  EXPECT_NE(first->log().find("is no longer held at epoch"), std::string::npos)
      << "the fence never refused the woken node:\n"
      << first->log();

  wait_drained(*second);
  expect_exact(*second, traffic);
  if (late_status == 202) expect_exact(*second, late);
  expect_holds_all(*second, 1);
}

}  // namespace
}  // namespace sluice
