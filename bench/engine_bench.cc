// Engine benchmark: orchestrations/s for "fan out to 3 activities that do nothing, fan in", with
// fsync on, on a fresh RocksDB directory. Also reports the process's peak resident memory.
//
//   engine_bench [INSTANCES] [PARTITIONS] [WORKERS] [--hold]
//
// All instances are started at once (up to INSTANCES in flight); the clock runs from the first
// start to the last completion. With --hold, activities wait until every instance has started
// and is mid-fan-out, and the resident memory at that moment is reported too.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "core/clock.h"
#include "engine/engine.h"
#include "storage/rocks/rocks_backend.h"

namespace {

std::atomic<bool> gate_open{true};

sluice::Task<std::string> fan_out_three(sluice::OrchestrationContext& ctx, std::string input) {
  std::vector<sluice::Task<std::string>> calls;
  calls.push_back(ctx.call_activity("stats", input));
  calls.push_back(ctx.call_activity("alerts", input));
  calls.push_back(ctx.call_activity("logging", input));
  co_await sluice::when_all(std::move(calls));
  co_return "ok";
}

long status_field_kib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  }
  return -1;
}
long peak_rss_kib() { return status_field_kib("VmHWM:"); }
long rss_kib() { return status_field_kib("VmRSS:"); }

}  // namespace

int main(int argc, char** argv) {
  const int instances = argc > 1 ? std::stoi(argv[1]) : 100'000;
  const unsigned partitions = argc > 2 ? std::stoul(argv[2]) : 2;
  const unsigned workers = argc > 3 ? std::stoul(argv[3]) : 1;
  const bool hold = argc > 4 && std::string(argv[4]) == "--hold";
  gate_open = !hold;

  const auto directory = std::filesystem::temp_directory_path() /
                         ("sluice-engine-bench-" + std::to_string(std::random_device{}()));
  int exit_code = 0;
  {
    auto backend = sluice::storage::RocksBackend::open(directory.string());
    if (!backend.ok()) {
      std::fprintf(stderr, "%s\n", backend.status().to_string().c_str());
      return 1;
    }
    sluice::SystemClock clock;
    sluice::Registry registry;
    registry.add_orchestrator("fan_out_three", fan_out_three);
    for (const char* name : {"stats", "alerts", "logging"}) {
      registry.add_activity(
          name, [](sluice::ActivityContext&, std::string_view) -> sluice::Result<std::string> {
            while (!gate_open.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            return std::string();
          });
    }
    sluice::engine::Engine engine(**backend, clock, registry,
                                  {partitions, workers, static_cast<std::size_t>(instances)});
    if (!engine.start().ok()) return 1;

    std::atomic<int> refused{0};
    const auto begin = std::chrono::steady_clock::now();
    for (int i = 0; i < instances; ++i) {
      engine.start_instance({"fan_out_three", "bench-" + std::to_string(i), "{}", false},
                            [&refused](sluice::Status status) {
                              if (!status.ok()) ++refused;
                            });
    }
    if (hold) {
      // Every instance started and waiting on its fan-out: measure, then let the work through.
      while (engine.active_instances() < static_cast<std::size_t>(instances) && refused == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      std::printf("in flight %zu: resident memory %ld KiB\n", engine.active_instances(), rss_kib());
      gate_open = true;
    }
    long peak_active = 0;
    // Wait until every start has been committed and every instance has finished.
    while (true) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const auto active = static_cast<long>(engine.active_instances());
      peak_active = std::max(peak_active, active);
      auto last = engine.instance("bench-" + std::to_string(instances - 1));
      if (active == 0 && last.ok() && *last && sluice::engine::is_terminal((*last)->status)) break;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    std::printf("instances %d, partitions %u, activity workers %u\n", instances, partitions,
                workers);
    std::printf("orchestrations/s %.0f (%.2f s), refused %d, peak in flight %ld\n",
                instances / seconds, seconds, refused.load(), peak_active);
    std::printf("peak RSS %ld KiB\n", peak_rss_kib());

    // Check the outcome: every instance Completed with the orchestrator's output.
    sluice::storage::ScanOptions scan;
    scan.limit = static_cast<std::size_t>(instances) + 1;
    auto records = (*backend)->scan(sluice::storage::Table::kInstances, scan);
    int completed = 0;
    for (const auto& entry : records.value()) {
      auto record = sluice::engine::decode_record(entry.key, entry.value);
      if (record.ok() && record->status == sluice::engine::RuntimeStatus::kCompleted &&
          record->output == "ok") {
        ++completed;
      }
    }
    std::printf("completed %d of %d\n", completed, instances);
    exit_code = refused == 0 && completed == instances ? 0 : 1;
  }
  std::filesystem::remove_all(directory);
  return exit_code;
}
