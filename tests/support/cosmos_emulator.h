#pragma once

// A Cosmos DB emulator that runs here (npm @vercel/cosmosdb-server, tests/node) for one test: on
// a free port of 127.0.0.1, over plain HTTP, holding its data in memory. It checks no keys;
// sluice signs its requests anyway. Reads go through Microsoft's @azure/cosmos (cosmos.js).

#include <fmt/format.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tests/support/free_port.h"
#include "tests/support/node_process.h"
#include "tests/support/temp_directory.h"

namespace sluice::testing {

class CosmosEmulator {
 public:
  // The emulator's well-known key (Microsoft's Cosmos DB emulator documentation).
  static constexpr const char* kKey =
      "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

  CosmosEmulator()
      : port_(free_port()),
        process_("node_modules/@vercel/cosmosdb-server/lib/cli.js",
                 {"-p", std::to_string(port_), "--no-ssl"},
                 (directory_.path() / "cosmos.log").string()) {
    process_.start("Ready to accept");
  }

  std::string endpoint() const { return fmt::format("http://127.0.0.1:{}/", port_); }
  std::string connection_string() const {
    return fmt::format("AccountEndpoint={};AccountKey={};", endpoint(), kKey);
  }
  // The connection string of a way to the emulator that answers every `every`-th document request
  // with 429 and x-ms-retry-after-ms `retry_after_ms` (tests/node/throttle_proxy.js); starts it.
  std::string throttled_connection_string(int every, int retry_after_ms) {
    const int proxy_port = free_port();
    throttle_ = std::make_unique<NodeProcess>(
        "throttle_proxy.js",
        std::vector<std::string>{std::to_string(proxy_port), std::to_string(port_),
                                 std::to_string(every), std::to_string(retry_after_ms)},
        (directory_.path() / "throttle.log").string());
    throttle_->start("listening");
    return fmt::format("AccountEndpoint=http://127.0.0.1:{}/;AccountKey={};", proxy_port, kKey);
  }
  // What the throttling way has printed: "throttled" or "throttled batch" per 429, "early" per
  // request sent again too soon.
  std::string throttle_log() const { return throttle_ ? throttle_->read_log() : ""; }

  // Unresponsive, as a service in an outage, until resumed; it keeps what it holds.
  void pause() { process_.signal(SIGSTOP); }
  void resume() { process_.signal(SIGCONT); }

  // Every document of `container` in database `database`, without Cosmos's own properties, as a
  // JSON array; throws if the SDK cannot read it.
  std::string read(const std::string& container, const std::string& database = "sluice") const {
    return tool("read", container, database, "");
  }
  // Creates or replaces `document` in `container`, as another writer would.
  void upsert(const std::string& container, const std::string& document,
              const std::string& database = "sluice") const {
    tool("upsert", container, database, document);
  }

 private:
  std::string tool(const std::string& verb, const std::string& container,
                   const std::string& database, const std::string& input) const {
    const std::string in = (directory_.path() / "tool-input").string();
    const std::string out = (directory_.path() / "tool-output").string();
    std::ofstream(in) << input;
    const std::string command =
        fmt::format("node {}/cosmos.js {} {} '{}' {} {} < {} > {} 2>&1", SLUICE_NODE_TOOLS, verb,
                    endpoint(), kKey, database, container, in, out);
    const int code = std::system(command.c_str());
    std::ifstream result(out);
    std::stringstream text;
    text << result.rdbuf();
    if (code != 0) {
      throw std::runtime_error("cosmos.js " + verb + " " + container + ":\n" + text.str());
    }
    return text.str();
  }

  TempDirectory directory_;
  int port_;
  NodeProcess process_;
  std::unique_ptr<NodeProcess> throttle_;
};

}  // namespace sluice::testing
