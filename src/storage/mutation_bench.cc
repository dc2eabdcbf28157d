// A partition turn gathers the intake queue's take of every message it starts: one erase and one
// -1 on the depth counter each. Absorbing them folds the counter adds into one operation.

#include <benchmark/benchmark.h>

#include <string>

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

}  // namespace
}  // namespace sluice::storage
