// Several nodes on one PostgreSQL database (eight partitions, leases of 2 s) share the
// partitions about equally, and any of them takes ingest, waits and management calls. A node that
// is killed has its partitions taken by the others within its lease and a little more; one that
// is paused past its lease too, and when it wakes, the fence in the database refuses its commits:
// it gives those partitions up and takes its share again. A database restarted under load leaves
// the nodes to share the partitions out again by themselves. Every acknowledged event is counted
// exactly once throughout.

#include "storage/cluster.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "pipeline/traffic.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/metric_samples.h"
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

  std::unique_ptr<ServerProcess> start_node(std::vector<std::string> settings = {}) {
    std::vector<std::string> args{"--set", "engine.partitions=8", "--set", "storage.lease_ms=2000"};
    for (auto& setting : settings) {
      args.emplace_back("--set");
      args.push_back(std::move(setting));
    }
    auto node = std::make_unique<ServerProcess>(data_.str(), std::move(args));
    EXPECT_TRUE(node->started()) << node->log();
    return node;
  }

  // Starts `count` nodes, kept until the test ends, into `nodes`; false unless they come to
  // share the partitions.
  bool start_nodes(std::size_t count, std::vector<ServerProcess*>& nodes,
                   const std::vector<std::string>& settings = {}) {
    for (std::size_t i = 0; i < count; ++i) {
      started_.push_back(start_node(settings));
      nodes.push_back(started_.back().get());
    }
    return spread(nodes);
  }

  // Whether `node` holds the partition of `instance_id`, as it sees the cluster.
  bool runs_on(const ServerProcess& node, const std::string& instance_id) {
    const json::value cluster = get_json(node, "/api/cluster");
    for (const auto& listed : cluster.at("nodes").as_array()) {
      if (json::value_to<std::string>(listed.at("address")) !=
          "127.0.0.1:" + std::to_string(node.port())) {
        continue;
      }
      for (const auto& partition : listed.at("partitions").as_array()) {
        if (partition.as_int64() == storage::partition_of(instance_id, 8)) return true;
      }
    }
    return false;
  }

  // Delivers `body` to whichever of `nodes` takes it, trying them in turn: the same event ids
  // each time, so a batch taken twice is counted once. Returns how often it was refused.
  int deliver(const std::vector<ServerProcess*>& nodes, const std::string& body) {
    int refused = 0;
    const bool delivered = testing::eventually(
        [&] {
          for (ServerProcess* node : nodes) {
            if (post(*node, body) == 202) return true;
            ++refused;
          }
          return false;
        },
        std::chrono::seconds(60));
    EXPECT_TRUE(delivered) << "no node took a batch for a minute";
    return refused;
  }

  // Waits until `nodes`, as `nodes[0]` sees the cluster, hold every partition between them, each
  // its share (8 among 3 is 3, 3 and 2) and nobody else any; false after a minute.
  bool spread(const std::vector<ServerProcess*>& nodes) {
    std::string last;
    const bool even = testing::eventually(
        [&] {
          const json::value cluster = get_json(*nodes[0], "/api/cluster");
          last = json::serialize(cluster);
          std::size_t held = 0;
          for (const auto& listed : cluster.at("nodes").as_array()) {
            const std::size_t count = listed.at("partitions").as_array().size();
            const bool ours = std::any_of(nodes.begin(), nodes.end(), [&](ServerProcess* node) {
              return json::value_to<std::string>(listed.at("address")) ==
                         "127.0.0.1:" + std::to_string(node->port()) &&
                     listed.at("live") == true;
            });
            if (!ours && count > 0) return false;
            if (ours && (count < 8 / nodes.size() || count > (8 + nodes.size() - 1) / nodes.size()))
              return false;
            held += count;
          }
          return held == 8;
        },
        std::chrono::minutes(1));
    EXPECT_TRUE(even) << "the partitions were not spread over " << nodes.size()
                      << " nodes: " << last;
    return even;
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

  testing::TempDirectory data_;
  std::vector<std::unique_ptr<ServerProcess>> started_;  // stopped before data_ goes
};

std::string batch(pipeline::Traffic& traffic, int events) {
  std::string body;
  for (int i = 0; i < events; ++i) body += traffic.next() + "\n";
  return body;
}

TEST_F(ClusterTest, ASigkilledNodesPartitionsMoveAndNothingIsLostOrDoubled) {
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  pipeline::Traffic traffic("kill-", "stream-", 8, seed);
  std::vector<ServerProcess*> nodes;
  ASSERT_TRUE(start_nodes(3, nodes));
  ServerProcess* killed = nodes[0];
  for (int round = 0; round < 30; ++round) {
    // Any node takes ingest: each batch goes to the next one.
    std::rotate(nodes.begin(), nodes.begin() + 1, nodes.end());
    deliver(nodes, batch(traffic, 100));
    if (round == 10) {
      // While it works through its share: some of it committed, some of it in flight.
      killed->kill_hard();
      std::erase(nodes, killed);
    }
  }
  ASSERT_TRUE(spread(nodes));
  EXPECT_NE((nodes[0]->log() + nodes[1]->log()).find("took partitions"), std::string::npos);
  wait_drained(*nodes[0]);
  for (ServerProcess* node : nodes) expect_exact(*node, traffic);  // all read one database
  // The killed node never closed its queue lane: another closes it, and forgets it once drained;
  // the two live nodes' lanes stay.
  json::value lanes;
  EXPECT_TRUE(testing::eventually(
      [&] {
        lanes = get_json(*nodes[0], "/api/queue").at("lanes");
        return lanes == 2;
      },
      std::chrono::minutes(1)))
      << "lanes registered: " << lanes;
}

// The same batch posted to every node at once: each event id is accepted by exactly one node and
// answered as a duplicate by the others, though they read the ids at the same moment. The test
// fails if no node ever met an id that another accepted between its read and its commit, as then
// it proved nothing.
TEST_F(ClusterTest, AnEventSentToEveryNodeAtOnceIsAcceptedByExactlyOne) {
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  pipeline::Traffic traffic("race-", "stream-", 8, seed);
  std::vector<ServerProcess*> nodes;
  ASSERT_TRUE(start_nodes(3, nodes));
  auto metric = [&](const std::string& name) {
    double total = 0;
    for (ServerProcess* node : nodes) {
      auto client = http::Client::create(node->url());
      auto response = (*client)->get("/metrics");
      EXPECT_TRUE(response.ok());
      if (response.ok()) total += testing::metric_samples(response->body).at(name);
    }
    return total;
  };

  int events = 0;
  for (int round = 0; round < 40 && (round < 3 || metric("sluice_intake_id_conflicts_total") == 0);
       ++round) {
    const std::string body = batch(traffic, 100);
    events += 100;
    std::vector<std::future<json::value>> answers;
    for (ServerProcess* node : nodes) {
      answers.push_back(std::async(std::launch::async, [node, &body] {
        auto client = http::Client::create(node->url());
        auto response = (*client)->post("/api/events", body, "application/x-ndjson");
        EXPECT_TRUE(response.ok() && response->status == 202)
            << (response.ok() ? response->body : response.status().to_string());
        return response.ok() ? json::parse(response->body) : json::value();
      }));
    }
    std::int64_t accepted = 0;
    for (auto& answer : answers) {
      const json::value answered = answer.get();
      ASSERT_TRUE(answered.is_object());
      accepted += answered.at("accepted").as_int64();
      EXPECT_EQ(answered.at("accepted").as_int64() + answered.at("duplicates").as_int64(), 100);
    }
    ASSERT_EQ(accepted, 100) << "round " << round << ": the nodes accepted " << accepted
                             << " of 100 new events between them";
  }
  EXPECT_GT(metric("sluice_intake_id_conflicts_total"), 0)
      << "no node ever met an id another had just accepted: the race was never run";
  EXPECT_EQ(metric("sluice_events_accepted_total"), events);
  wait_drained(*nodes[0]);
  expect_exact(*nodes[0], traffic);
}

// POST /api/events?wait= on one node returns when the batch has finished, though other nodes run
// most of its events: the waiting node reads those from the database.
TEST_F(ClusterTest, AWaitOnOneNodeSeesEventsFinishOnTheOthers) {
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  pipeline::Traffic traffic("wait-", "stream-", 8, seed);
  std::vector<ServerProcess*> nodes;
  ASSERT_TRUE(start_nodes(3, nodes));
  ServerProcess* first = nodes[0];

  const std::string body = batch(traffic, 40);
  std::size_t elsewhere = 0;
  for (std::size_t line = 0, end; (end = body.find('\n', line)) != std::string::npos;
       line = end + 1) {
    const auto id =
        json::value_to<std::string>(json::parse(body.substr(line, end - line)).at("event_id"));
    if (!runs_on(*first, id)) ++elsewhere;
  }
  ASSERT_GT(elsewhere, 0u) << "every event of the batch runs on the node that waits";

  // The wait may last two minutes; the events take moments.
  auto waited = std::async(std::launch::async, [&] {
    auto client = http::Client::create(first->url());
    return std::move(*client)->post("/api/events?wait=120", body, "application/x-ndjson");
  });
  ASSERT_EQ(waited.wait_for(std::chrono::minutes(1)), std::future_status::ready)
      << "the wait did not see the events that finished on other nodes";
  const auto response = waited.get();
  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->status, 200u) << response->body;
  EXPECT_EQ(json::parse(response->body).at("runtimeStatus"), (json::object{{"Completed", 40}}))
      << response->body;
  expect_exact(*nodes[1], traffic);
}

// A management call about an instance that runs on another node is sent there: the caller need
// not know which node holds what. A call that was sent on once is not sent on again. A purge by
// filter is sent to every node.
TEST_F(ClusterTest, ManagementCallsOnAnyNodeReachTheNodeThatRunsTheInstance) {
  // Alerts cannot be delivered, and the retry waits a minute: each instance stays Running.
  const std::vector<std::string> settings{"webhooks.down.url=http://127.0.0.1:1/",
                                          "pipeline.retry.first_interval_ms=60000"};
  std::vector<ServerProcess*> nodes;
  ASSERT_TRUE(start_nodes(3, nodes, settings));
  ServerProcess* first = nodes[0];
  auto client = http::Client::create(first->url()).value();
  const std::string prefix = "/runtime/webhooks/durabletask/instances/";
  // As a client does: a 503 (a partition on the move, until the first node sees where it went)
  // is tried again.
  using boost::beast::http::verb;
  auto call = [&](verb method, const std::string& target, const std::string& body = {}) {
    http::ClientResponse answer;
    EXPECT_TRUE(testing::eventually([&] {
      auto response = client->request(method, target, body, body.empty() ? "" : "application/json");
      if (!response.ok()) return false;
      answer = std::move(*response);
      return answer.status != 503;
    })) << method
        << " " << target << ": " << answer.body;
    return answer;
  };

  // Ids whose partitions run on another node than the first.
  std::vector<std::string> ids;
  for (int n = 0; ids.size() < 4; ++n) {
    std::string id = "elsewhere-" + std::to_string(n);
    if (!runs_on(*first, id)) ids.push_back(std::move(id));
  }
  const std::string follower = R"("stream_id":"s","type":"follower","user_name":"ann"})";
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(post(*first, R"({"event_id":")" + ids[i] + R"(",)" + follower), 202u);
  }
  // Started over the management API: the event takes the instance's id.
  const auto started =
      call(verb::post, "/runtime/webhooks/durabletask/orchestrators/process_event/" + ids[3],
           "{" + follower);
  EXPECT_EQ(started.status, 202u) << started.body;
  EXPECT_EQ(started.headers[boost::beast::http::field::location], first->url() + prefix + ids[3]);
  for (const auto& id : ids) {
    ASSERT_TRUE(testing::eventually([&] {
      auto status = client->get(prefix + id);
      return status.ok() && status->status == 202 &&
             json::parse(status->body).at("runtimeStatus") == "Running";
    })) << id
        << " never ran";
  }

  // Sent on once only: the node that answers does not hold the partition.
  auto not_sent_on = client->request(verb::post, prefix + ids[0] + "/terminate", "", "",
                                     {{"Sluice-Forwarded-By", "127.0.0.1:1"}});
  ASSERT_TRUE(not_sent_on.ok());
  EXPECT_EQ(not_sent_on->status, 503u) << not_sent_on->body;
  EXPECT_NE(not_sent_on->body.find("does not run on this node"), std::string::npos)
      << not_sent_on->body;

  const auto suspended = call(verb::post, prefix + ids[0] + "/suspend?reason=hold");
  EXPECT_EQ(suspended.status, 202u) << suspended.body;
  EXPECT_TRUE(testing::eventually(
      [&] { return get_json(*first, prefix + ids[0], 202).at("runtimeStatus") == "Suspended"; }));
  const auto terminated = call(verb::post, prefix + ids[0] + "/terminate?reason=enough");
  EXPECT_EQ(terminated.status, 202u) << terminated.body;
  EXPECT_TRUE(testing::eventually([&] {
    const json::value status = get_json(*first, prefix + ids[0]);
    return status.at("runtimeStatus") == "Terminated" && status.at("output") == "enough";
  }));
  const auto purged = call(verb::delete_, prefix + ids[0]);
  EXPECT_EQ(purged.status, 200u) << purged.body;
  EXPECT_EQ(get_json(*nodes[1], prefix + ids[0], 404).at("error").at("code"), "not_found");
  const auto raised = call(verb::post, prefix + ids[2] + "/raiseEvent/nothing", "1");
  EXPECT_EQ(raised.status, 202u) << raised.body;

  // A purge by filter on one node purges what every node runs.
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(call(verb::post, prefix + ids[i] + "/terminate").status, 202u);
  }
  EXPECT_TRUE(testing::eventually([&] {
    return get_json(*first, "/runtime/webhooks/durabletask/instances?runtimeStatus=Terminated")
               .as_array()
               .size() == 3;
  }));
  const auto purged_all =
      call(verb::delete_, "/runtime/webhooks/durabletask/instances?runtimeStatus=Terminated");
  EXPECT_EQ(purged_all.status, 200u) << purged_all.body;
  EXPECT_EQ(json::parse(purged_all.body).at("instancesDeleted"), 3) << purged_all.body;
  EXPECT_TRUE(get_json(*nodes[2], "/runtime/webhooks/durabletask/instances").as_array().empty());
}

// `sluice bench --url` against one node of three counts what all three finish.
TEST_F(ClusterTest, TheBenchmarkCountsWhatEveryNodeFinishes) {
  std::vector<ServerProcess*> nodes;
  ASSERT_TRUE(start_nodes(3, nodes));
  auto run = testing::run_sluice({"bench", "--url", nodes[0]->url(), "--events", "2000", "--batch",
                                  "100", "--streams", "8", "--drain-timeout", "120", "--json"});
  ASSERT_EQ(run.exit.code, 0) << run.output;
  const json::value out = json::parse(run.output.substr(run.output.rfind("\n{") + 1));
  EXPECT_EQ(out.at("nodes"), 3);
  EXPECT_EQ(out.at("completed").to_number<double>(), 2000);
  EXPECT_EQ(out.at("stats_match"), true);
}

// The database restarts, as after a crash, while three nodes take ingest. Every node cuts its
// sessions, refuses ingest while it is gone, and finds its leases ended when it is back: the
// nodes share the partitions out again by themselves, and every acknowledged event counts once.
TEST_F(ClusterTest, ARestartedDatabaseLosesAndDoublesNothingAcrossTheNodes) {
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  pipeline::Traffic traffic("outage-", "stream-", 8, seed);
  std::vector<ServerProcess*> nodes;
  ASSERT_TRUE(start_nodes(3, nodes));

  int refused = 0;
  std::future<void> restarted;
  for (int round = 0; round < 30; ++round) {
    std::rotate(nodes.begin(), nodes.begin() + 1, nodes.end());
    refused += deliver(nodes, batch(traffic, 100));
    if (round == 10) {
      // As after a power cut: no shutdown checkpoint, every session cut. Back after more than a
      // lease, so that every node's lease has ended meanwhile.
      testing::test_postgres().stop(/*immediate=*/true);
      restarted = std::async(std::launch::async, [] {
        std::this_thread::sleep_for(std::chrono::seconds(3));
        testing::test_postgres().start();
      });
    }
  }
  restarted.get();
  EXPECT_GT(refused, 0) << "no batch was refused: the outage hit nothing";
  ASSERT_TRUE(spread(nodes));
  wait_drained(*nodes[0]);
  for (ServerProcess* node : nodes) expect_exact(*node, traffic);
}

// Faults on a schedule drawn from a printed seed: in each round a random node is killed (and a
// new one started) or paused past its lease (and woken), at a random point of the traffic. After
// each fault the others must have taken its partitions; at the end every stream counts exactly
// what was acknowledged.
TEST_F(ClusterTest, RandomKillsAndPausesLoseAndDoubleNothing) {
  // SLUICE_TEST_SEED=N runs a printed schedule again.
  const char* fixed = std::getenv("SLUICE_TEST_SEED");
  const auto seed =
      fixed != nullptr ? static_cast<std::uint32_t>(std::stoul(fixed)) : std::random_device{}();
  std::cout << "seed " << seed << std::endl;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  pipeline::Traffic traffic("random-", "stream-", 8, seed);
  std::vector<ServerProcess*> nodes;
  ASSERT_TRUE(start_nodes(3, nodes));

  for (int round = 0; round < 4; ++round) {
    const bool kill = std::uniform_int_distribution<int>(0, 1)(random) == 0;
    const std::size_t index = std::uniform_int_distribution<std::size_t>(0, 2)(random);
    ServerProcess* victim = nodes[index];
    const int before = std::uniform_int_distribution<int>(0, 4)(random);
    std::cout << "round " << round << ": " << (kill ? "kill" : "pause") << " node " << index
              << " after " << before << " batches" << std::endl;
    for (int b = 0; b < before; ++b) deliver(nodes, batch(traffic, 100));

    if (kill) {
      victim->kill_hard();
    } else {
      victim->signal(SIGSTOP);
    }
    std::vector<ServerProcess*> others = nodes;
    std::erase(others, victim);
    for (int b = 0; b < 3; ++b) deliver(others, batch(traffic, 100));
    // The victim held its share (the last round ended with the partitions shared among all):
    // they must have moved.
    ASSERT_TRUE(spread(others)) << "round " << round << ": nobody took the partitions";

    if (kill) {
      started_.push_back(start_node());
      std::replace(nodes.begin(), nodes.end(), victim, started_.back().get());
    } else {
      victim->signal(SIGCONT);
    }
    ASSERT_TRUE(spread(nodes)) << "round " << round << ": the partitions were not shared again";
  }
  wait_drained(*nodes[0]);
  for (ServerProcess* node : nodes) expect_exact(*node, traffic);
}

// A node tells the others where to send calls about its instances: the address it listens on. One
// that listens on every interface has no such address, and refuses to start.
TEST_F(ClusterTest, ANodeListeningOnEveryInterfaceRefusesToStart) {
  auto run = testing::run_sluice({"serve", "--listen", "0.0.0.0:0", "--set",
                                  "storage=" + testing::storage_setting(data_.str()), "--set",
                                  "keys.ops.secret=0123456789abcdef0123456789abcdef", "--set",
                                  "keys.ops.scopes=admin"});
  EXPECT_TRUE(run.exit.exited);
  EXPECT_EQ(run.exit.code, 2) << run.output;
  EXPECT_NE(run.output.find("listen: nodes that share a database"), std::string::npos)
      << run.output;
  EXPECT_EQ(run.output.find("0123456789abcdef"), std::string::npos) << "a secret was printed";
}

TEST_F(ClusterTest, ANodePausedPastItsLeaseIsFencedWhenItWakesAndTakesItsShareAgain) {
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  pipeline::Traffic traffic("pause-", "stream-", 8, seed);
  auto first = start_node();
  auto second = start_node();
  ASSERT_TRUE(spread({first.get(), second.get()}));
  for (int round = 0; round < 10; ++round)
    deliver({first.get(), second.get()}, batch(traffic, 200));
  // A backlog, so that the first node is in the middle of its share when it stops.
  for (int round = 0; round < 4; ++round) deliver({first.get()}, batch(traffic, 500));

  first->signal(SIGSTOP);
  // Taken by the kernel now, read by the paused node only when it wakes. Any node takes ingest:
  // if it acknowledges the batch, the node that holds the partitions processes it.
  pipeline::Traffic late("late-", "late-stream-", 2, seed);
  auto late_answer = std::async(std::launch::async, [&] { return post(*first, batch(late, 50)); });
  ASSERT_TRUE(spread({second.get()})) << second->log();
  for (int round = 0; round < 5; ++round) deliver({second.get()}, batch(traffic, 200));

  first->signal(SIGCONT);
  const unsigned late_status = late_answer.get();
  const bool refused = testing::eventually(
      [&] { return first->log().find("is no longer held at epoch") != std::string::npos; },
      std::chrono::seconds(30));
  EXPECT_TRUE(refused) << "the fence never refused the woken node:\n" << first->log();
  ASSERT_TRUE(spread({first.get(), second.get()}));

  wait_drained(*second);
  expect_exact(*second, traffic);
  if (late_status == 202) expect_exact(*second, late);
  const testing::ExitResult exit = first->stop();
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.code, 0) << first->log();
}

}  // namespace
}  // namespace sluice
