// What formatting a time as RFC 3339 costs: times within one second (an event's receipt, its log
// entry and its alert, formatted one after another), and a new second on every call.

#include <benchmark/benchmark.h>

#include "core/clock.h"

namespace sluice {
namespace {

constexpr Micros kStart = 1'795'568'523'000'000;

void BM_FormatRfc3339WithinOneSecond(benchmark::State& state) {
  Micros time = kStart;
  for (auto _ : state) {
    benchmark::DoNotOptimize(format_rfc3339(time));
    time = kStart + (time - kStart + 1'777) % 1'000'000;
  }
}
BENCHMARK(BM_FormatRfc3339WithinOneSecond);

void BM_FormatRfc3339NewSecondEachCall(benchmark::State& state) {
  Micros time = kStart;
  for (auto _ : state) {
    benchmark::DoNotOptimize(format_rfc3339(time));
    time += 1'000'123;
  }
}
BENCHMARK(BM_FormatRfc3339NewSecondEachCall);

}  // namespace
}  // namespace sluice
