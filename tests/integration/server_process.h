#pragma once

// ServerProcess: the real `sluice serve` binary, started for a test on a free port with its own
// data directory, driven over HTTP and stopped (SIGTERM) or killed (SIGKILL) by the test.

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace sluice::testing {

std::string sluice_binary();

struct ExitResult {
  bool exited = false;  // false: ended by a signal
  int code = -1;        // exit code, or the signal number
};

class ServerProcess {
 public:
  // Starts `BINARY serve --listen 127.0.0.1:0 --set storage=… ARGS...` with its data in
  // `data_directory` (or in that directory's database: tests/support/test_storage.h) and waits
  // until it serves.
  // BINARY is sluice unless given. On failure to start, started() is false and log() says why.
  ServerProcess(const std::string& data_directory, std::vector<std::string> args = {},
                std::string binary = sluice_binary());
  ~ServerProcess();  // kills the process if it is still running

  bool started() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const;

  void signal(int number);  // SIGSTOP, SIGCONT: the process keeps running
  void kill_hard();         // SIGKILL, then reap
  ExitResult stop();        // SIGTERM, then wait for the exit
  ExitResult wait();        // wait for the process to end by itself

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string log_path_;
};

// Runs `sluice ARGS...` to completion; returns its exit and what it wrote to stdout and stderr.
struct CommandResult {
  ExitResult exit;
  std::string output;
};
CommandResult run_sluice(const std::vector<std::string>& args, const std::string& input = {});

}  // namespace sluice::testing
