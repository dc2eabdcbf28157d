// A partition turn gathers the intake queue's take of every message it starts: one erase and one
// -1 on the depth counter each. Absorbing them folds the counter adds into one operation.
// Every processed event also adds a stats patch, encoded once as it joins its Mutation, and folded
// into the one before it for the same stream.

#include <benchmark/benchmark.h>

#include <string>

#include "storage/document_patch.h"
#include "storage/mutation.h"

namespace sluice::storage {
namespace {

void BM_AbsorbTakes(benchmark::State& state) {
  const auto takes = static_cast<int>(state.range(0));
  std::size_t operations = 0;
  for (auto _ : state) {
    Mutation turn;
    for (int i = 0; i < takes; ++i) {
      Mutation take;
      take.erase(Table::kQueue, "alerts\x1f" + std::to_string(1'000'000 + i));
      take.add("queue-depth/alerts", -1);
      turn.absorb(std::move(take));
    }
    operations = turn.operations().size();
    benchmark::DoNotOptimize(turn);
  }
  state.counters["operations"] = static_cast<double>(operations);
  state.SetItemsProcessed(state.iterations() * takes);
}
BENCHMARK(BM_AbsorbTakes)->Arg(10)->Arg(1000);

// A partition turn also gathers one stats patch per event; those of one stream fold into one.
void BM_AbsorbStatsPatches(benchmark::State& state) {
  const auto events = static_cast<int>(state.range(0));
  DocumentPatch patch;
  patch.increment({"events"}, 1)
      .increment({"followers"}, 1)
      .maximum({"last_event_at"}, boost::json::string("2026-11-30T10:00:00.123Z"))
      .assign({"updated_at"}, boost::json::string("2026-11-30T10:00:00.125Z"));
  std::size_t operations = 0;
  for (auto _ : state) {
    Mutation turn;
    for (int i = 0; i < events; ++i) {
      Mutation effects;
      effects.patch("stats\x1fstream-" + std::to_string(i % 100), patch);
      turn.absorb(std::move(effects));
    }
    operations = turn.operations().size();
    benchmark::DoNotOptimize(turn);
  }
  state.counters["operations"] = static_cast<double>(operations);
  state.SetItemsProcessed(state.iterations() * events);
}
BENCHMARK(BM_AbsorbStatsPatches)->Arg(100)->Arg(1000);

// The patch the stats activity writes for a donation.
void BM_EncodeStatsPatch(benchmark::State& state) {
  namespace json = boost::json;
  DocumentPatch patch;
  patch.increment({"events"}, 1)
      .increment({"donations", "count"}, 1)
      .increment({"donations", "totals", "USD"}, 500)
      .maximum({"last_event_at"}, json::string("2026-11-30T10:00:00.123Z"))
      .assign({"updated_at"}, json::string("2026-11-30T10:00:00.125Z"))
      .assign({"id"}, json::string("stream-42"))
      .assign({"stream_id"}, json::string("stream-42"));
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string encoded = patch.encode();
    bytes = encoded.size();
    benchmark::DoNotOptimize(encoded);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EncodeStatsPatch);

}  // namespace
}  // namespace sluice::storage
