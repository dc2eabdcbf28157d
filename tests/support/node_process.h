#pragma once

// NodeProcess: a program of tests/node (an emulator from npm) run by Node.js for one test, its
// output in a log file; started, signalled and stopped by the test.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

class NodeProcess {
 public:
  // `script` is relative to tests/node; `log` is where its output goes (appended).
  NodeProcess(std::string script, std::vector<std::string> args, std::string log)
      : script_(std::string(SLUICE_NODE_TOOLS) + "/" + std::move(script)),
        args_(std::move(args)),
        log_(std::move(log)) {}
  ~NodeProcess() { stop(); }
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Starts the program and waits until its output, from here on, holds `ready`; throws with the
  // output if it does not within a minute.
  void start(const std::string& ready) {
    const std::size_t from = read_log().size();
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv{const_cast<char*>("node"), script_.data()};
      for (auto& arg : args_) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execvp("node", argv.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (read_log().find(ready, from) == std::string::npos) {
      int status = 0;
      const bool ended = ::waitpid(pid_, &status, WNOHANG) == pid_;
      if (ended || std::chrono::steady_clock::now() > deadline) {
        if (!ended) {  // not to be left running
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
        }
        pid_ = -1;
        throw std::runtime_error(script_ + " did not start:\n" + read_log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  // SIGTERM, and waits for the end (a paused process is continued first, or it could not end).
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::kill(pid_, SIGCONT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  void signal(int number) const {
    if (pid_ > 0) ::kill(pid_, number);
  }

  std::string read_log() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::string script_;
  std::vector<std::string> args_;
  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace sluice::testing
