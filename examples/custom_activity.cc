// A custom activity with durable effects: each event counted into its stream's totals document
// and logged, exactly once. The first attempt at every event fails after writing its effects;
// those writes are dropped with the failed attempt, and the retry's commit with its completion.
// The totals are read back after the runtime is closed and opened again. Exits 0 when they are
// exact.
//
//   custom_activity [DIRECTORY]

#include <sluice/runtime.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <string>

namespace {

std::mutex seen_mutex;
std::set<std::string> seen;  // instances whose first attempt already failed

// Input: the stream id as a JSON string, e.g. "\"s1\"".
sluice::Result<std::string> count_event(sluice::ActivityContext& context, std::string_view input) {
  const std::string stream(input.substr(1, input.size() - 2));
  sluice::Effects& effects = context.effects();
  if (auto counted = effects.increment("totals", stream, stream, "events", 1); !counted.ok()) {
    return counted;
  }
  const std::string entry =
      R"({"id":")" + context.instance_id() + R"(","stream":")" + stream + R"("})";
  if (auto logged = effects.upsert("log", stream, context.instance_id(), entry); !logged.ok()) {
    return logged;
  }
  std::lock_guard lock(seen_mutex);
  if (seen.insert(context.instance_id()).second) {
    return sluice::unavailable("the first attempt fails after writing");  // effects dropped
  }
  return std::string("true");
}

sluice::Task<std::string> process(sluice::OrchestrationContext& ctx, std::string stream) {
  sluice::RetryPolicy retry;
  retry.max_attempts = 2;
  retry.first_interval = 10'000;
  co_return co_await ctx.call_activity("count_event", stream, retry);
}

std::unique_ptr<sluice::Runtime> open(const std::filesystem::path& directory) {
  auto runtime = sluice::Runtime::open({.directory = directory.string()});
  if (!runtime.ok()) {
    std::cerr << runtime.status().to_string() << "\n";
    return nullptr;
  }
  (*runtime)->registry().add_orchestrator("process", process);
  (*runtime)->registry().add_activity("count_event", count_event);
  if (auto started = (*runtime)->start(); !started.ok()) {
    std::cerr << started.to_string() << "\n";
    return nullptr;
  }
  return std::move(runtime).value();
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path directory =
      argc > 1 ? std::filesystem::path(argv[1])
               : std::filesystem::temp_directory_path() /
                     ("sluice-custom-activity-" + std::to_string(getpid()));
  bool exact = true;
  {
    auto runtime = open(directory);
    if (!runtime) return 1;
    const std::pair<const char*, const char*> events[] = {
        {"e1", R"("s1")"}, {"e2", R"("s1")"}, {"e3", R"("s2")"}};
    for (const auto& [id, stream] : events) {
      if (auto started = runtime->start_instance("process", id, stream); !started.ok()) {
        std::cerr << started.to_string() << "\n";
        return 1;
      }
    }
    for (const auto& [id, stream] : events) {
      auto state = runtime->wait(id, std::chrono::seconds(30));
      exact = exact && state.ok() && state->status == "Completed";
    }
  }
  auto runtime = open(directory);  // as after a restart: what committed is what there is
  if (!runtime) return 1;
  for (const auto& [stream, count] : {std::pair{"s1", 2}, std::pair{"s2", 1}}) {
    auto totals = runtime->document("totals", stream, stream);
    const std::string text = totals.ok() && *totals ? **totals : "(none)";
    std::cout << stream << ": " << text << "\n";
    exact = exact && text.find(R"("events":)" + std::to_string(count)) != std::string::npos;
  }
  auto logged = runtime->document("log", "s1", "e2");
  exact = exact && logged.ok() && logged->has_value();
  runtime.reset();
  if (argc <= 1) std::filesystem::remove_all(directory);
  return exact ? 0 : 1;
}
