#include "tests/integration/server_process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "tests/support/test_storage.h"

namespace sluice::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

ExitResult decode(int status) {
  if (WIFEXITED(status)) return {true, WEXITSTATUS(status)};
  if (WIFSIGNALED(status)) return {false, WTERMSIG(status)};
  return {};
}

std::string temp_log_path() {
  std::random_device random;
  return "/tmp/sluice-test-" + std::to_string(random()) + ".log";
}

// fork + exec of the sluice binary with stdout and stderr going to `log_path` and stdin from
// `input_path` (or /dev/null).
pid_t spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::string& log_path, const std::string& input_path = "/dev/null") {
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = open(input_path.c_str(), O_RDONLY);
    dup2(in, 0);
    dup2(log, 1);
    dup2(log, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

std::string sluice_binary() { return SLUICE_BINARY; }

ServerProcess::ServerProcess(const std::string& data_directory, std::vector<std::string> args,
                             std::string binary)
    : log_path_(temp_log_path()) {
  std::vector<std::string> full = {"serve", "--listen", "127.0.0.1:0", "--set",
                                   "storage=" + storage_setting(data_directory)};
  // A node killed and started again waits for its own lease to run out.
  if (on_postgres()) full.insert(full.end(), {"--set", "storage.lease_ms=1000"});
  full.insert(full.end(), args.begin(), args.end());
  pid_ = spawn(binary, full, log_path_);
  // Wait for the "listening on 127.0.0.1:PORT" line, or for the process to give up.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const std::string marker = "listening on 127.0.0.1:";
  while (std::chrono::steady_clock::now() < deadline) {
    if (const std::string text = read_file(log_path_); text.find(marker) != std::string::npos) {
      port_ = static_cast<std::uint16_t>(std::stoi(text.substr(text.find(marker) + marker.size())));
      return;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) kill_hard();
  unlink(log_path_.c_str());
}

std::string ServerProcess::log() const { return read_file(log_path_); }

void ServerProcess::signal(int number) {
  if (pid_ > 0) ::kill(pid_, number);
}

void ServerProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

ExitResult ServerProcess::stop() {
  if (pid_ <= 0) return {};
  ::kill(pid_, SIGTERM);
  return wait();
}

ExitResult ServerProcess::wait() {
  if (pid_ <= 0) return {};
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return decode(status);
}

CommandResult run_sluice(const std::vector<std::string>& args, const std::string& input) {
  const std::string log_path = temp_log_path();
  std::string input_path = "/dev/null";
  if (!input.empty()) {
    input_path = log_path + ".in";
    std::ofstream(input_path) << input;
  }
  const pid_t pid = spawn(sluice_binary(), args, log_path, input_path);
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult result{decode(status), read_file(log_path)};
  unlink(log_path.c_str());
  if (!input.empty()) unlink(input_path.c_str());
  return result;
}

}  // namespace sluice::testing
