#pragma once

// MemoryBackend: a Backend held in memory, with the durability model of a disk. apply() makes a
// change readable at once; wait_durable() makes everything applied so far durable, as one sync of
// a write-ahead log does; lose_unsynced() forgets what was never made durable, as a machine that
// loses power does. What an object holds outlives any one user of it, so a test can drop the
// whole system built on it, build it again on the same object and watch it recover.
//
// It keeps the same contract as RocksBackend (counters add with wrap-around, patches merge in
// order, scans by prefix both ways), proven by the same tests (backend_contract_test.cc).

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/backend.h"

namespace sluice::storage {

class MemoryBackend final : public Backend {
 public:
  Result<std::uint64_t> apply(const Mutation& mutation) override;
  std::uint64_t applied() override;
  Status wait_durable(std::uint64_t ticket) override;
  Result<std::optional<std::string>> get(Table table, std::string_view key) override;
  Result<std::vector<std::optional<std::string>>> get_many(
      Table table, std::span<const std::string> keys) override;
  Result<std::vector<Entry>> scan(Table table, const ScanOptions& options) override;

  // Undoes every applied change not yet durable, newest first; returns how many commits that
  // undid. Call it only while nobody else uses the backend.
  std::size_t lose_unsynced();

 private:
  using Rows = std::map<std::string, std::string, std::less<>>;
  // What one applied commit overwrote: each touched key's value before it (nullopt: absent), in
  // the order it touched them.
  struct Undo {
    std::vector<std::pair<std::pair<Table, std::string>, std::optional<std::string>>> before;
  };

  Rows& rows(Table table) { return tables_[static_cast<std::size_t>(table)]; }
  Status apply_operation(const Mutation::Operation& operation, Undo& undo);
  void roll_back(Undo& undo);

  std::mutex mutex_;
  std::array<Rows, kAllTables.size()> tables_;  // guarded by mutex_
  std::vector<Undo> unsynced_;                  // guarded by mutex_: oldest first
  std::uint64_t applied_ = 0;                   // guarded by mutex_
  std::uint64_t durable_ = 0;                   // guarded by mutex_
};

}  // namespace sluice::storage
