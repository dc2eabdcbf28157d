// engine_host: the engine and the HTTP API in a process of their own, with test orchestrators,
// for crash tests that SIGKILL it.
// Usage: engine_host serve --listen HOST:PORT --data DIR [--hold-while FILE]
//
// Orchestrator "fan_out" (input: N) calls activity "effect" N times in parallel and returns the
// sum of 0..N-1. Each "effect" takes a couple of milliseconds and adds 1, as a local effect, to
// the counters "effects/INSTANCE" and "effects/total". With --hold-while, activities wait as long
// as FILE exists, so a test can have every instance mid-fan-out before it lets work proceed.

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/logging.h"
#include "engine/engine.h"
#include "http/api.h"
#include "http/server.h"
#include "queue/dead_letter_store.h"
#include "queue/intake_queue.h"
#include "storage/rocks/rocks_backend.h"

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
  std::string data, listen = "127.0.0.1:0";
  static std::string hold_file;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--data") data = argv[i + 1];
    if (std::string(argv[i]) == "--listen") listen = argv[i + 1];
    if (std::string(argv[i]) == "--hold-while") hold_file = argv[i + 1];
  }
  sluice::configure_logging("info");
  auto backend = sluice::storage::RocksBackend::open(data);
  if (!backend.ok()) {
    spdlog::error("{}", backend.status().to_string());
    return 2;
  }
  sluice::Registry registry;
  registry.add_orchestrator("fan_out", fan_out);
  registry.add_activity(
      "effect",
      [](sluice::ActivityContext& ctx, std::string_view input) -> sluice::Result<std::string> {
        while (!hold_file.empty() && std::filesystem::exists(hold_file)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // stands for real work
        ctx.effects().add("effects/" + ctx.instance_id(), 1);
        ctx.effects().add("effects/total", 1);
        return std::string(input);
      });

  sluice::SystemClock clock;
  sluice::IdGenerator ids(clock);
  auto intake = std::move(sluice::queue::IntakeQueue::open(**backend, clock, "alerts").value());
  sluice::queue::DeadLetterStore dead_letters(**backend, "alerts-deadletter");
  sluice::engine::Engine engine(**backend, clock, registry, {2, 8, 100'000});
  if (!engine.start().ok()) return 2;
  sluice::http::Api api(*intake, dead_letters, ids, clock, {}, &engine, &registry);
  sluice::http::ServerOptions options;
  options.host = listen.substr(0, listen.rfind(':'));
  options.port = static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
  options.threads = 2;
  sluice::http::Server server(
      options, [&api](sluice::http::Request& request) { return api.handle(request); });
  if (!server.listen().ok()) return 2;
  spdlog::info("listening on {}:{}", options.host, server.port());
  server.run();
  intake->stop();
  engine.stop();
  return 0;
}
