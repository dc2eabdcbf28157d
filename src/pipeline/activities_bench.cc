// What a partition turn spends on one event's local activities (stats, alerts with only the
// in-process feed, logging), each run as the partition runs it: the event read from its envelope,
// its effects gathered into the turn's Mutation. Every event is new, so the stats marker lookup
// misses, as it does for a first delivery.

#include <benchmark/benchmark.h>

#include <array>

#include "engine/activity_pool.h"
#include "pipeline/process_event.h"
#include "pipeline/traffic.h"
#include "storage/rocks/rocks_backend.h"
#include "tests/support/temp_directory.h"

namespace sluice::pipeline {
namespace {

void BM_ProcessEventLocalActivities(benchmark::State& state) {
  testing::TempDirectory directory;
  auto backend = storage::RocksBackend::open(directory.str()).value();
  StreamStore streams(*backend);
  queue::DeadLetterStore dead_letters(*backend, "dead-letters");
  AlertFeed alerts;
  webhooks::WebhookSender sender;
  // Fixed: an event is mostly processed within the second it was received in.
  ManualClock clock(1'795'000'000'000'000);
  Registry registry;
  register_pipeline(registry, streams, dead_letters, alerts, sender, clock, {});
  const ActivityFunction* activities[] = {registry.local_activity("stats"),
                                          registry.local_activity("alerts"),
                                          registry.local_activity("logging")};

  Traffic traffic("event-", "stream-", 100, 1);
  // Each event's three calls, as its history schedules them.
  std::vector<std::array<engine::HistoryEvent, 3>> events;
  for (int i = 0; i < 10'000; ++i) {
    const std::string envelope = make_envelope(traffic.next(), clock.now());
    auto& calls = events.emplace_back();
    for (std::int64_t task = 0; task < 3; ++task) {
      calls[task] = {engine::EventType::kTaskScheduled, 0, task, "", envelope, 0};
    }
  }
  std::size_t next = 0;
  const std::string instance = "instance";
  storage::Mutation turn;
  for (auto _ : state) {
    const auto& calls = events[next++ % events.size()];
    for (std::int64_t task = 0; task < 3; ++task) {
      auto result =
          engine::run_local_activity(*activities[task], instance, calls[task], clock.now(), turn);
      if (result.type != engine::EventType::kTaskCompleted)
        state.SkipWithError(result.data.c_str());
      benchmark::DoNotOptimize(result);
    }
    // A turn of 200 events commits; its Mutation starts again.
    if (next % 200 == 0) turn = storage::Mutation();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProcessEventLocalActivities);

}  // namespace
}  // namespace sluice::pipeline
