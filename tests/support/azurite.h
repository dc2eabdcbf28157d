#pragma once

// Azurite's queue service, Microsoft's Storage emulator from npm (tests/node), for one test: on a
// free port of 127.0.0.1 with its data in a temporary directory, so that it can be stopped and
// started again with what it held. Also runs tests/node/azure_queue.js, which drives queues with
// Microsoft's own SDK.

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tests/support/free_port.h"
#include "tests/support/node_process.h"
#include "tests/support/temp_directory.h"

namespace sluice::testing {

class Azurite {
 public:
  // Azurite's published development account.
  static constexpr const char* kAccount = "devstoreaccount1";
  static constexpr const char* kKey =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

  Azurite()
      : port_(free_port()),
        // The SDK in tests/node speaks a newer REST version than this Azurite knows; the
        // requests sluice makes name one it does.
        process_("node_modules/azurite/dist/src/queue/main.js",
                 {"--queueHost", "127.0.0.1", "--queuePort", std::to_string(port_), "--location",
                  (directory_.path() / "data").string(), "--skipApiVersionCheck",
                  "--disableTelemetry", "--loose", "--silent"},
                 (directory_.path() / "azurite.log").string()) {
    start();
  }
  Azurite(const Azurite&) = delete;
  Azurite& operator=(const Azurite&) = delete;

  // As AzureWebJobsStorage would name it.
  std::string connection_string() const {
    return fmt::format(
        "DefaultEndpointsProtocol=http;AccountName={};AccountKey={};"
        "QueueEndpoint=http://127.0.0.1:{}/{};",
        kAccount, kKey, port_, kAccount);
  }

  void start() { process_.start(fmt::format("listens on http://127.0.0.1:{}", port_)); }
  // SIGTERM: Azurite writes what it holds and ends.
  void stop() { process_.stop(); }

  // Runs `node azure_queue.js ARGS` (with `input` on stdin); its output, or throws.
  std::string queue_tool(const std::string& args, const std::string& input = {}) const {
    const std::string in = (directory_.path() / "tool-input").string();
    const std::string out = (directory_.path() / "tool-output").string();
    std::ofstream(in) << input;
    const std::string command =
        fmt::format("node {}/azure_queue.js {} < {} > {} 2>&1", SLUICE_NODE_TOOLS, args, in, out);
    const int code = std::system(command.c_str());
    std::ifstream result(out);
    std::stringstream text;
    text << result.rdbuf();
    if (code != 0) throw std::runtime_error("azure_queue.js " + args + " failed:\n" + text.str());
    return text.str();
  }
  // The tool's commands on `queue` with this account: send, drain, count.
  std::string send(const std::string& queue, const std::string& lines,
                   const std::string& encoding = "base64") const {
    return queue_tool(fmt::format("send '{}' {} {}", connection_string(), queue, encoding), lines);
  }
  std::string drain(const std::string& queue) const {
    return queue_tool(fmt::format("drain '{}' {}", connection_string(), queue));
  }
  long count(const std::string& queue) const {
    return std::stol(queue_tool(fmt::format("count '{}' {}", connection_string(), queue)));
  }

  std::string read_log() const { return process_.read_log(); }

 private:
  TempDirectory directory_;
  int port_;
  NodeProcess process_;
};

}  // namespace sluice::testing
