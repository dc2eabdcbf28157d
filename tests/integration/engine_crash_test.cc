// The engine under SIGKILL: 10,000 instances are started and killed mid-fan-out; after a restart
// every acknowledged instance completes exactly once with the right output, and no activity's
// local effect is applied twice.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "engine/engine.h"
#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"
#include "tests/support/test_storage.h"

namespace sluice {
namespace {

namespace json = boost::json;
constexpr int kInstances = 10'000;
constexpr int kFanOut = 3;
constexpr int kProducers = 4;
const std::string kExpectedOutput = "3";  // 0 + 1 + 2

TEST(EngineCrashTest, InstancesKilledMidFanOutCompleteExactlyOnce) {
  testing::TempDirectory data;
  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::set<std::string> attempted;

  {
    // Activities wait while this file exists: every instance gets started and mid-fan-out
    // before any work completes, however slow the machine (or a sanitizer) makes ingest.
    const std::string hold = data.str() + "-hold";
    std::ofstream(hold) << "hold";
    testing::ServerProcess host(data.str(), {"--hold-while", hold}, ENGINE_HOST_BINARY);
    ASSERT_TRUE(host.started()) << host.log();
    std::atomic<int> acknowledged_count{0};
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, p] {
        auto client = std::move(http::Client::create(host.url()).value());
        for (int n = p; n < kInstances; n += kProducers) {
          const std::string id = "fan-" + std::to_string(n);
          {
            std::lock_guard lock(mutex);
            attempted.insert(id);
          }
          auto response = client->post("/runtime/webhooks/durabletask/orchestrators/fan_out/" + id,
                                       std::to_string(kFanOut));
          if (!response.ok()) return;  // killed
          ASSERT_EQ(response->status, 202u) << response->body;
          std::lock_guard lock(mutex);
          acknowledged.insert(id);
          ++acknowledged_count;
        }
      });
    }
    // Let the work go once every start is in, and kill at a random point of the fan-outs (the
    // 30,000 activities take seconds of worker time, so most instances are mid-fan-out).
    while (acknowledged_count < kInstances) std::this_thread::yield();
    std::filesystem::remove(hold);
    std::mt19937 random(std::random_device{}());
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution(50, 1500)(random)));
    host.kill_hard();
    for (auto& producer : producers) producer.join();
  }
  ASSERT_EQ(acknowledged.size(), static_cast<size_t>(kInstances));

  {
    testing::ServerProcess host(data.str(), {}, ENGINE_HOST_BINARY);
    ASSERT_TRUE(host.started()) << host.log();
    auto client = std::move(http::Client::create(host.url()).value());
    bool running_before_drain = false;
    bool answered = true;  // a host that stops answering ends the wait at once
    const bool drained = testing::eventually(
        [&] {
          auto response = client->get(
              "/runtime/webhooks/durabletask/instances?runtimeStatus=Pending,Running,Suspended"
              "&top=1");
          answered = response.ok() && response->status == 200;
          if (!answered) return true;
          if (json::parse(response->body).as_array().empty()) return true;
          running_before_drain = true;
          return false;
        },
        std::chrono::minutes(5));
    ASSERT_TRUE(answered) << "the host stopped answering\n" << host.log();
    EXPECT_TRUE(drained) << "instances were still running after five minutes";
    EXPECT_TRUE(running_before_drain)
        << "the kill came after everything finished: nothing was tested";
    EXPECT_EQ(host.stop().code, 0) << host.log();
  }

  auto backend = testing::open_storage(data.str());
  SystemClock clock;
  Registry registry;
  engine::Engine reader(*backend, clock, registry, {});
  int completed = 0;
  for (const auto& id : attempted) {
    auto record = reader.instance(id).value();
    if (!record) {
      EXPECT_FALSE(acknowledged.contains(id)) << id << " was acknowledged but is gone";
      continue;
    }
    EXPECT_EQ(record->status, engine::RuntimeStatus::kCompleted) << id;
    EXPECT_EQ(record->output, kExpectedOutput) << id;
    EXPECT_EQ(backend->counter("effects/" + id).value(), kFanOut)
        << id << ": effects applied wrongly";
    ++completed;
  }
  EXPECT_EQ(completed, kInstances);
  EXPECT_EQ(backend->counter("effects/total").value(),
            static_cast<std::int64_t>(completed) * kFanOut);
}

}  // namespace
}  // namespace sluice
