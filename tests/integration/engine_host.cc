// engine_host: a node assembled as `sluice serve` assembles it, with test orchestrators added, in
// a process of its own, for crash tests that SIGKILL it.
// Usage: engine_host serve --listen HOST:PORT --set storage=STORAGE [--hold-while FILE]
//
// Orchestrator "fan_out" (input: N) calls activity "effect" N times in parallel and returns the
// sum of 0..N-1. Each "effect" takes a couple of milliseconds and adds 1, as a local effect, to
// the counters "effects/INSTANCE" and "effects/total". With --hold-while, activities wait as long
// as FILE exists, so a test can have every instance mid-fan-out before it lets work proceed.

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "app/config.h"
#include "app/node.h"
#include "core/logging.h"
#include "engine/activity_effects.h"

namespace {

sluice::Task<std::string> fan_out(sluice::OrchestrationContext& ctx, std::string input) {
  const int count = std::stoi(input);
  std::vector<sluice::Task<std::string>> calls;
  for (int i = 0; i < count; ++i) calls.push_back(ctx.call_activity("effect", std::to_string(i)));
  std::vector<std::string> results = co_await sluice::when_all(std::move(calls));
  long sum = 0;
  for (const auto& result : results) sum += std::stol(result);
  co_return std::to_string(sum);
}

}  // namespace

int main(int argc, char** argv) {
  std::string storage, listen = "127.0.0.1:0";
  static std::string hold_file;
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string_view value = argv[i + 1];
    if (std::string(argv[i]) == "--set" && value.starts_with("storage=")) {
      storage = value.substr(std::string_view("storage=").size());
    }
    if (std::string(argv[i]) == "--listen") listen = argv[i + 1];
    if (std::string(argv[i]) == "--hold-while") hold_file = argv[i + 1];
  }
  sluice::configure_logging("info");
  sluice::settings::Sources sources;
  sources.overrides = {{"storage", storage},
                       {"listen", listen},
                       {"http.threads", "2"},
                       {"engine.partitions", "2"},
                       {"engine.activity_workers", "8"}};
  auto config = sluice::app::load_config(sources);
  if (!config.ok()) {
    spdlog::error("{}", config.status().to_string());
    return 2;
  }
  auto node = sluice::app::Node::open(*config);
  if (!node.ok()) {
    spdlog::error("{}", node.status().to_string());
    return 2;
  }
  sluice::Registry& registry = (*node)->registry();
  registry.add_orchestrator("fan_out", fan_out);
  registry.add_activity(
      "effect",
      [](sluice::ActivityContext& ctx, std::string_view input) -> sluice::Result<std::string> {
        while (!hold_file.empty() && std::filesystem::exists(hold_file)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // stands for real work
        sluice::engine::mutation_of(ctx.effects()).add("effects/" + ctx.instance_id(), 1);
        sluice::engine::mutation_of(ctx.effects()).add("effects/total", 1);
        return std::string(input);
      });
  if (!(*node)->start().ok()) return 2;
  (*node)->run();
  return 0;
}
