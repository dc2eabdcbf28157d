#pragma once

// Runtime: sluice's durable orchestration engine inside a program of your own, on the embedded
// store (RocksDB in a directory), without the HTTP server or the event pipeline.
//
//   auto runtime = std::move(sluice::Runtime::open({.directory = "data"}).value());
//   runtime->registry().add_orchestrator("greet", greet);
//   runtime->registry().add_activity("hello", hello);
//   SLUICE_CHECK(runtime->start().ok());  // recovers what a previous process left unfinished
//   SLUICE_CHECK(runtime->start_instance("greet", "g-1", R"("world")").ok());
//   auto state = runtime->wait("g-1", std::chrono::seconds(10));
//
// Every call is thread-safe. start_instance() and raise_event() return once the change is on
// disk; an instance then runs to its end even across crashes and restarts.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "sluice/orchestration.h"
#include "sluice/status.h"

namespace sluice {

struct RuntimeOptions {
  std::string directory;  // created if missing; one process at a time may open it
  unsigned partitions = 2;
  unsigned activity_workers = 2;
};

struct InstanceState {
  // "Pending", "Running", "Suspended", "Completed", "Failed" or "Terminated", as Durable
  // Functions spells them.
  std::string status;
  std::string output;  // the orchestrator's result when Completed, its failure when Failed
  bool finished() const {
    return status == "Completed" || status == "Failed" || status == "Terminated";
  }
};

class Runtime {
 public:
  static Result<std::unique_ptr<Runtime>> open(RuntimeOptions options);
  // Stops the engine: running instances stay durable and resume on the next start().
  virtual ~Runtime() = default;

  // Register orchestrators and activities here before start().
  virtual Registry& registry() = 0;
  // Recovers unfinished instances and starts running.
  virtual Status start() = 0;

  // Starts `orchestrator` as `instance_id` with `input` (JSON). AlreadyExists if the id is taken.
  virtual Status start_instance(std::string orchestrator, std::string instance_id,
                                std::string input) = 0;
  // Delivers an external event to an instance waiting with wait_for_event(name).
  virtual Status raise_event(std::string instance_id, std::string name, std::string data) = 0;
  // The instance's state, or nullopt if there is none.
  virtual Result<std::optional<InstanceState>> instance(const std::string& instance_id) = 0;
  // Waits until the instance has finished, or `timeout` has passed (then: its state so far).
  virtual Result<InstanceState> wait(const std::string& instance_id,
                                     std::chrono::milliseconds timeout) = 0;
  // A document written through an activity's Effects, as JSON, or nullopt.
  virtual Result<std::optional<std::string>> document(std::string_view container,
                                                      std::string_view partition,
                                                      std::string_view id) = 0;
};

}  // namespace sluice
