#pragma once

// Azurite's queue service, Microsoft's Storage emulator from npm (tests/node), for one test: on a
// free port of 127.0.0.1 with its data in a temporary directory, so that it can be stopped and
// started again with what it held. Also runs tests/node/azure_queue.js, which drives queues with
// Microsoft's own SDK.

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "tests/support/free_port.h"
#include "tests/support/temp_directory.h"

namespace sluice::testing {

class Azurite {
 public:
  // Azurite's published development account.
  static constexpr const char* kAccount = "devstoreaccount1";
  static constexpr const char* kKey =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

  Azurite() : port_(free_port()) { start(); }
  ~Azurite() { stop(); }
  Azurite(const Azurite&) = delete;
  Azurite& operator=(const Azurite&) = delete;

  // As AzureWebJobsStorage would name it.
  std::string connection_string() const {
    return fmt::format(
        "DefaultEndpointsProtocol=http;AccountName={};AccountKey={};"
        "QueueEndpoint=http://127.0.0.1:{}/{};",
        kAccount, kKey, port_, kAccount);
  }

  void start() {
    const std::string log = log_path();
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      const std::string main =
          std::string(SLUICE_NODE_TOOLS) + "/node_modules/azurite/dist/src/queue/main.js";
      const std::string port = std::to_string(port_);
      const std::string data = (directory_.path() / "data").string();
      // The SDK in tests/node speaks a newer REST version than this Azurite knows; the requests
      // sluice makes name one it does.
      ::execlp("node", "node", main.c_str(), "--queueHost", "127.0.0.1", "--queuePort",
               port.c_str(), "--location", data.c_str(), "--skipApiVersionCheck",
               "--disableTelemetry", "--loose", "--silent", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    const std::string listening = fmt::format("listens on http://127.0.0.1:{}", port_);
    while (read_log().find(listening, log_offset_) == std::string::npos) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_ ||
          std::chrono::steady_clock::now() > deadline) {
        pid_ = -1;
        throw std::runtime_error("Azurite did not start:\n" + read_log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    log_offset_ = read_log().size();
  }

  // SIGTERM: Azurite writes what it holds and ends.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

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

  std::string read_log() const {
    std::ifstream in(log_path());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::string log_path() const { return (directory_.path() / "azurite.log").string(); }

  TempDirectory directory_;
  int port_;
  pid_t pid_ = -1;
  std::size_t log_offset_ = 0;
};

}  // namespace sluice::testing
