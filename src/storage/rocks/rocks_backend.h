#pragma once

// RocksBackend: the embedded Backend. One RocksDB database, one column family per Table, every
// commit one WriteBatch written with sync=true (RocksDB groups concurrent syncing writers into
// one fsync). Counters and document patches are merge operands, so writers never read first.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/backend.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace sluice::storage {

class RocksBackend final : public Backend {
 public:
  // Opens or creates the database in `directory` (created if missing). Fails if the directory
  // cannot be written, holds something that is not a sluice database, or is used by another
  // process.
  //
  // Commits are refused with ResourceExhausted while the directory's filesystem has less than
  // `min_free_bytes` free, so RocksDB never meets a full disk mid-write (its WAL writer cannot be
  // used again after a failed write) and flushes and compactions keep room to work. Refusal ends
  // by itself as soon as space returns. Free space is looked up again at least every 100 ms, and
  // sooner the nearer it is to the reserve, so that writing at 256 MiB/s could not pass it
  // unseen.
  static Result<std::unique_ptr<RocksBackend>> open(const std::string& directory,
                                                    std::uint64_t min_free_bytes = 0);
  ~RocksBackend() override;

  Status commit(const Mutation& mutation) override;
  Result<std::optional<std::string>> get(Table table, std::string_view key) override;
  Result<std::vector<std::optional<std::string>>> get_many(
      Table table, std::span<const std::string> keys) override;
  Result<std::int64_t> counter(std::string_view key) override;
  Result<std::vector<Entry>> scan(Table table, const ScanOptions& options) override;

 private:
  RocksBackend() = default;
  rocksdb::ColumnFamilyHandle* handle(Table table) const {
    return handles_[static_cast<size_t>(table)];
  }

  // Nothing when there is room to commit; otherwise why not. Asks the filesystem only when the
  // room it last saw could have run out since, not on every commit.
  Status check_free_space();

  std::string directory_;
  std::uint64_t min_free_bytes_ = 0;
  // Steady-clock microseconds before which the last look at the filesystem still holds.
  std::atomic<std::int64_t> free_space_known_until_{0};
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // indexed by Table; owned by db_
};

}  // namespace sluice::storage
