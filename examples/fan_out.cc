// An orchestration on the embedded store: an order is priced by asking three suppliers at once
// (fan out), one of which fails its first attempt and is retried after a durable backoff; after a
// durable timer the quotes are summed (fan in). Exits 0 when the instance completed with the
// right total.
//
//   fan_out [DIRECTORY]   (default: a new directory under the system's temporary directory)

#include <sluice/runtime.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::atomic<int> globex_attempts{0};

// A quote in whole dollars for a supplier named by its JSON string.
sluice::Result<std::string> quote(sluice::ActivityContext&, std::string_view supplier) {
  if (supplier == R"("globex")" && globex_attempts++ == 0) {
    return sluice::unavailable("globex is busy; try again");  // transient: retried
  }
  if (supplier == R"("acme")") return std::string("120");
  if (supplier == R"("globex")") return std::string("95");
  return std::string("101");
}

sluice::Task<std::string> price_order(sluice::OrchestrationContext& ctx, std::string) {
  sluice::RetryPolicy retry;
  retry.max_attempts = 3;
  retry.first_interval = 100'000;  // 0.1 s, doubling
  std::vector<sluice::Task<std::string>> quotes;
  for (std::string supplier : {R"("acme")", R"("globex")", R"("initech")"}) {
    quotes.push_back(ctx.call_activity("quote", supplier, retry));
  }
  const std::vector<std::string> prices = co_await sluice::when_all(std::move(quotes));
  // Orchestrations never sleep: a durable timer survives a restart of the process.
  co_await ctx.create_timer(ctx.now() + 200'000);
  long total = 0;
  for (const auto& price : prices) total += std::stol(price);
  co_return std::to_string(total);
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path directory =
      argc > 1
          ? std::filesystem::path(argv[1])
          : std::filesystem::temp_directory_path() / ("sluice-fan-out-" + std::to_string(getpid()));
  auto opened = sluice::Runtime::open({.directory = directory.string()});
  if (!opened.ok()) {
    std::cerr << opened.status().to_string() << "\n";
    return 1;
  }
  auto runtime = std::move(opened).value();
  runtime->registry().add_orchestrator("price_order", price_order);
  runtime->registry().add_activity("quote", quote);
  if (auto started = runtime->start(); !started.ok()) {
    std::cerr << started.to_string() << "\n";
    return 1;
  }
  if (auto started = runtime->start_instance("price_order", "order-1", "{}"); !started.ok()) {
    std::cerr << started.to_string() << "\n";
    return 1;
  }
  auto state = runtime->wait("order-1", std::chrono::seconds(30));
  if (!state.ok()) {
    std::cerr << state.status().to_string() << "\n";
    return 1;
  }
  std::cout << "order-1 " << state->status << ": total " << state->output << ", globex asked "
            << globex_attempts << " times\n";
  runtime.reset();
  if (argc <= 1) std::filesystem::remove_all(directory);
  return state->status == "Completed" && state->output == "316" && globex_attempts == 2 ? 0 : 1;
}
