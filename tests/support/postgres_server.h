#pragma once

// A private PostgreSQL 15 server for one test process: a cluster made with initdb in a temporary
// directory, listening on a free port of 127.0.0.1 and on a unix socket in that directory,
// stopped and removed when the object goes. fsync and synchronous_commit stay on, as in
// production. Run as root, the server runs as the `postgres` user (it refuses root).

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tests/support/free_port.h"
#include "tests/support/temp_directory.h"

namespace sluice::testing {

class PostgresServer {
 public:
  static constexpr const char* kBinaries = "/usr/lib/postgresql/15/bin";

  PostgresServer() : port_(free_port()) {
    // The server runs as `postgres` when this process is root: it must own the cluster.
    if (::geteuid() == 0) {
      const passwd* user = ::getpwnam("postgres");
      if (user == nullptr) throw std::runtime_error("no `postgres` user (install postgresql-15)");
      as_user_ = "runuser -u postgres -- ";
      if (::chown(directory_.str().c_str(), user->pw_uid, user->pw_gid) != 0) {
        throw std::runtime_error("cannot hand the cluster directory to `postgres`");
      }
    }
    run(fmt::format("{}/initdb -D {} -U sluice -A trust -E UTF8 --no-sync > {} 2>&1", kBinaries,
                    data(), setup_log()));
    start();
  }
  ~PostgresServer() {
    try {
      stop();
    } catch (...) {  // nothing more to do: the directory goes anyway
    }
  }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // A database of its own for one test, empty: its name.
  std::string new_database() {
    const std::string name = "t" + std::to_string(++databases_);
    run(
        fmt::format("{}/psql -X -q -h {} -p {} -U sluice -d postgres -c 'CREATE DATABASE {}' "
                    ">> {} 2>&1",
                    kBinaries, directory_.str(), port_, name, setup_log()));
    return name;
  }
  // The same, as its connection string.
  std::string create_database() { return conninfo(new_database()); }
  // `database`'s connection string; through `port` (a proxy's) when given.
  std::string conninfo(const std::string& database, int port = 0) const {
    return "postgresql://sluice@127.0.0.1:" + std::to_string(port != 0 ? port : port_) + "/" +
           database;
  }

  void start() {
    run(
        fmt::format("{}/pg_ctl -D {} -l {}/server.log -w -t 60 -o \"-p {} -k {} "
                    "-c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on "
                    "-c synchronous_commit=on\" start >> {} 2>&1",
                    kBinaries, data(), directory_.str(), port_, directory_.str(), setup_log()));
    running_ = true;
  }
  // Stops the server as a crash would (no shutdown checkpoint), or cleanly.
  void stop(bool immediate = false) {
    if (!running_) return;
    running_ = false;
    run(fmt::format("{}/pg_ctl -D {} -m {} -w -t 60 stop >> {} 2>&1", kBinaries, data(),
                    immediate ? "immediate" : "fast", setup_log()));
  }

  int port() const { return port_; }
  std::string log() const {
    std::ifstream in(directory_.path() / "server.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::string data() const { return (directory_.path() / "data").string(); }
  std::string setup_log() const { return (directory_.path() / "setup.log").string(); }

  void run(const std::string& command) const {
    const std::string line = as_user_ + "sh -c '" + escape(command) + "'";
    if (std::system(line.c_str()) != 0) {
      std::ifstream in(setup_log());
      std::stringstream text;
      text << in.rdbuf();
      throw std::runtime_error("failed: " + command + "\n" + text.str() + log());
    }
  }
  static std::string escape(const std::string& command) {
    std::string out;
    for (char c : command) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    return out;
  }

  TempDirectory directory_;
  int port_;
  std::string as_user_;
  bool running_ = false;
  int databases_ = 0;
};

}  // namespace sluice::testing
