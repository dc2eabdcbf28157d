#pragma once

// Where a test's server keeps its data: RocksDB in the test's directory, or, when the environment
// says SLUICE_TEST_STORAGE=postgresql (as ctest does for each suite's PostgreSQL run), a database
// of its own for that directory on a private PostgreSQL server, started on first use and stopped
// when the test process ends. The same directory always names the same database, so a server
// restarted on it finds what it left.

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "storage/postgres/postgres_backend.h"
#include "storage/rocks/rocks_backend.h"
#include "tests/support/postgres_server.h"

namespace sluice::testing {

inline bool on_postgres() {
  const char* chosen = std::getenv("SLUICE_TEST_STORAGE");
  return chosen != nullptr && std::string(chosen) == "postgresql";
}

// The process's PostgreSQL server, started on first use (tests stop and start it to cut storage
// away from a running node).
inline PostgresServer& test_postgres() {
  static PostgresServer server;
  return server;
}

// The `storage` setting for a server whose data belongs in `directory`.
inline std::string storage_setting(const std::string& directory) {
  if (!on_postgres()) return "rocksdb:" + directory;
  static std::mutex mutex;
  static std::map<std::string, std::string> databases;  // directory -> connection string
  std::lock_guard lock(mutex);
  auto [it, added] = databases.try_emplace(directory);
  if (added) it->second = test_postgres().create_database();
  return it->second;
}

// The storage a server on `directory` used, opened by the test to look at it directly (the server
// must have stopped, for RocksDB).
inline std::unique_ptr<storage::Backend> open_storage(const std::string& directory) {
  const std::string setting = storage_setting(directory);
  if (on_postgres()) {
    auto backend = storage::PostgresBackend::open(setting, 2);
    if (!backend.ok()) throw std::runtime_error(backend.status().to_string());
    return std::move(*backend);
  }
  auto backend = storage::RocksBackend::open(directory);
  if (!backend.ok()) throw std::runtime_error(backend.status().to_string());
  return std::move(*backend);
}

}  // namespace sluice::testing
