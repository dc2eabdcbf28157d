// The whole server (app::Node, real HTTP on a real port) on a backend that injects faults. One
// scenario — events posted one at a time, each processed by the pipeline — is crashed after its
// Nth commit for every N, as a process crash (what was applied survives) and as a power loss (only
// what was synced survives); then recovered, and every invariant of the design checked: each
// acknowledged event Completed exactly once, stats exact, nothing left queued or running, no dead
// letter. A failed commit, a full disk and a stalled sync must not lose or double anything either.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <map>
#include <set>

#include "pipeline/traffic.h"
#include "tests/integration/in_process_server.h"
#include "tests/support/eventually.h"
#include "tests/support/fault_injecting_backend.h"

namespace sluice {
namespace {

namespace json = boost::json;

constexpr int kEvents = 8;

// Event n (id "e<n>-0", stream "even0" or "odd0", a random type seeded by n) with the stats it
// adds.
struct Event {
  std::string id;
  std::string stream;
  std::string body;
  pipeline::StreamTotals totals;
};

std::vector<Event> scenario() {
  std::vector<Event> events;
  for (int n = 0; n < kEvents; ++n) {
    pipeline::Traffic traffic("e" + std::to_string(n) + "-", n % 2 == 0 ? "even" : "odd", 1,
                              static_cast<std::uint32_t>(n));
    Event event;
    event.body = traffic.next();
    event.id = "e" + std::to_string(n) + "-0";
    event.stream = traffic.expected().begin()->first;
    event.totals = traffic.expected().begin()->second;
    events.push_back(std::move(event));
  }
  return events;
}

const std::vector<std::pair<std::string, std::string>> kSettings = {
    {"pipeline.retry.first_interval_ms", "5"}, {"engine.partitions", "2"}};

json::value get_json(http::Client& client, const std::string& target) {
  auto response = client.get(target);
  if (!response.ok() || response->status != 200) return nullptr;
  return json::parse(response->body);
}

bool idle(http::Client& client) {
  const json::value queue = get_json(client, "/api/queue");
  return queue.is_object() && queue.at("depth") == 0 && queue.at("running") == 0;
}

std::string runtime_status(http::Client& client, const std::string& id) {
  const json::value status = get_json(client, "/runtime/webhooks/durabletask/instances/" + id);
  return status.is_object() ? std::string(status.at("runtimeStatus").as_string()) : "absent";
}

// Posts each event until it is acknowledged (as a producer retries), or once when `once`.
std::set<std::string> post(http::Client& client, const std::vector<Event>& events, bool once) {
  std::set<std::string> acknowledged;
  for (const auto& event : events) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      auto response = client.post("/api/events", event.body, "application/json");
      if (response.ok() && response->status / 100 == 2) {
        acknowledged.insert(event.id);
        break;
      }
      if (once) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return acknowledged;
}

// After recovery: every acknowledged event Completed, the others Completed or absent, stats
// exact over those present, each in its stream's history once, nothing queued, running or
// dead-lettered.
void check_invariants(http::Client& client, const std::vector<Event>& events,
                      const std::set<std::string>& acknowledged, const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_TRUE(testing::eventually([&] { return idle(client); })) << "never went idle";
  std::map<std::string, pipeline::StreamTotals> expected;
  for (const auto& event : events) {
    const std::string status = runtime_status(client, event.id);
    if (acknowledged.contains(event.id)) {
      EXPECT_EQ(status, "Completed") << event.id << " was acknowledged";
    } else {
      EXPECT_TRUE(status == "Completed" || status == "absent") << event.id << ": " << status;
    }
    if (status == "Completed") expected[event.stream].add(event.totals);
  }
  for (const std::string stream : {"even0", "odd0"}) {
    const json::value stats = get_json(client, "/api/streams/" + stream + "/stats");
    const json::value page = get_json(client, "/api/streams/" + stream + "/events?limit=1000");
    if (!expected.contains(stream)) {
      EXPECT_TRUE(stats.is_null() || stats.at("events") == 0) << stream << ": " << stats;
      continue;
    }
    const auto differences = pipeline::compare_stats(expected[stream], stats);
    EXPECT_TRUE(differences.empty()) << stream << ": " << differences.front();
    ASSERT_TRUE(page.is_object()) << stream;
    std::set<std::string> listed;
    for (const auto& item : page.at("items").as_array()) {
      EXPECT_TRUE(listed.insert(std::string(item.at("id").as_string())).second)
          << "listed twice: " << item.at("id");
    }
    EXPECT_EQ(static_cast<std::int64_t>(listed.size()), expected[stream].events) << stream;
  }
  EXPECT_EQ(get_json(client, "/api/queue").at("deadletter").at("count"), 0);
}

// Crashes the scenario after commit N, for N = 0, 1, … until a run finishes before its crash
// point; recovers each on a fresh server over what the "disk" kept and checks every invariant,
// then sends every event again (a producer retrying what it did not see acknowledged) and checks
// that each counts once. Returns how many crash points hit.
int crash_after_every_commit(bool power_loss) {
  const auto events = scenario();
  int hit = 0;
  for (std::uint64_t n = 0;; ++n) {
    const std::string where = (power_loss ? "power loss" : "process crash") +
                              std::string(" after commit ") + std::to_string(n);
    SCOPED_TRACE(where);
    storage::MemoryBackend disk;
    std::set<std::string> acknowledged;
    bool crashed = false;
    {
      testing::FaultInjectingBackend faulty(disk);
      faulty.crash_after_commit(n);
      testing::InProcessServer server(faulty, kSettings);
      server.start();
      auto client = server.client();
      acknowledged = post(*client, events, /*once=*/true);
      EXPECT_TRUE(testing::eventually([&] { return faulty.crashed() || idle(*client); }));
      crashed = faulty.crashed();
      if (!crashed) {
        // The whole scenario took fewer commits than n: every crash point has been tried.
        EXPECT_EQ(acknowledged.size(), events.size());
        check_invariants(*client, events, acknowledged, where + ", never crashed");
        return hit;
      }
    }  // the "process" is gone: everything built on the faulty backend is dropped
    ++hit;
    if (power_loss) disk.lose_unsynced();
    testing::FaultInjectingBackend recovered(disk);
    testing::InProcessServer server(recovered, kSettings);
    server.start();
    auto client = server.client();
    check_invariants(*client, events, acknowledged, where + ", recovered");
    EXPECT_EQ(post(*client, events, /*once=*/false).size(), events.size());
    std::set<std::string> all;
    for (const auto& event : events) all.insert(event.id);
    check_invariants(*client, events, all, where + ", every event sent again");
    if (::testing::Test::HasFailure()) return hit;
  }
}

TEST(FaultInjectionTest, AProcessCrashAfterAnyCommitLosesAndDoublesNothing) {
  const int hit = crash_after_every_commit(/*power_loss=*/false);
  std::cout << "[ crash ] " << hit << " crash points\n";
  // Each event is posted once its predecessor was acknowledged, so each was a commit of its own.
  EXPECT_GT(hit, kEvents);
}

TEST(FaultInjectionTest, APowerLossAfterAnyCommitLosesNothingAcknowledged) {
  const int hit = crash_after_every_commit(/*power_loss=*/true);
  std::cout << "[ power loss ] " << hit << " crash points\n";
  EXPECT_GT(hit, kEvents);
}

// Any one commit attempt fails (an I/O error the backend recovers from): the server answers that
// request with an error or retries inside, and in the end every event counts exactly once.
TEST(FaultInjectionTest, AFailedCommitAnywhereIsRetriedOrRefusedNeverHalfDone) {
  const auto events = scenario();
  std::set<std::string> all;
  for (const auto& event : events) all.insert(event.id);
  int hit = 0;
  for (std::uint64_t n = 1;; ++n) {
    SCOPED_TRACE("commit attempt " + std::to_string(n) + " fails");
    storage::MemoryBackend disk;
    testing::FaultInjectingBackend faulty(disk);
    faulty.fail_commit_attempt(n);
    testing::InProcessServer server(faulty, kSettings);
    server.start();
    auto client = server.client();
    ASSERT_EQ(post(*client, events, /*once=*/false).size(), events.size());
    check_invariants(*client, events, all, "after commit attempt " + std::to_string(n) + " failed");
    if (HasFailure()) return;
    if (faulty.attempts() < n) break;  // the scenario ended before attempt n: all were tried
    ++hit;
  }
  std::cout << "[ failed commit ] " << hit << " attempts failed in turn\n";
  EXPECT_GT(hit, kEvents);
}

TEST(FaultInjectionTest, AFullDiskRefusesEventsAndNothingIsLostWhenRoomReturns) {
  const auto events = scenario();
  const std::vector<Event> first(events.begin(), events.begin() + kEvents / 2);
  const std::vector<Event> rest(events.begin() + kEvents / 2, events.end());
  storage::MemoryBackend disk;
  testing::FaultInjectingBackend faulty(disk);
  testing::InProcessServer server(faulty, kSettings);
  server.start();
  auto client = server.client();
  ASSERT_EQ(post(*client, first, /*once=*/true).size(), first.size());
  faulty.set_disk_full(true);
  for (const auto& event : rest) {
    auto response = client->post("/api/events", event.body, "application/json");
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 503u) << response->body;
    EXPECT_TRUE(response->headers.find("Retry-After") != response->headers.end());
  }
  faulty.set_disk_full(false);
  ASSERT_EQ(post(*client, rest, /*once=*/false).size(), rest.size());
  std::set<std::string> all;
  for (const auto& event : events) all.insert(event.id);
  check_invariants(*client, events, all, "after the disk was full");
}

// An event is acknowledged only once it is durable: while the disk will not sync, its POST waits
// (reads are still answered), and the answer comes when the sync does.
TEST(FaultInjectionTest, NoAcknowledgementBeforeTheSync) {
  const auto events = scenario();
  storage::MemoryBackend disk;
  testing::FaultInjectingBackend faulty(disk);
  testing::InProcessServer server(faulty, {{"pipeline.paused", "true"}});
  server.start();
  faulty.stall_syncs(true);
  auto posted = std::async(std::launch::async, [&] {
    auto client = server.client();
    return client->post("/api/events", events[0].body, "application/json");
  });
  auto reader = server.client();
  // The event is applied (readable in the queue) but not durable, and not acknowledged.
  ASSERT_TRUE(testing::eventually([&] {
    const json::value queue = get_json(*reader, "/api/queue");
    return queue.is_object() && queue.at("depth") == 1;
  }));
  EXPECT_EQ(posted.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout)
      << "acknowledged before the sync";
  faulty.stall_syncs(false);
  auto response = posted.get();
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 202u) << response->body;
}

}  // namespace
}  // namespace sluice
