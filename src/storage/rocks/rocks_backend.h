#pragma once

// RocksBackend: the embedded Backend. One RocksDB database, one column family per Table, every
// commit one WriteBatch. Counters and document patches are merge operands, so writers never read
// first.
//
// A commit returns once its write-ahead log record is on disk. Writes do not wait behind a sync:
// each commit writes without one, then waits for a sync of the log that began after its write.
// One committer at a time syncs, on behalf of every write made before it began (intake appends
// and every partition's turns alike); the others wait for it. So a sync covers whatever was
// written while the previous one ran. The price: between its write and that sync (one sync at
// most), a commit can be read by other threads before it is durable. Only a machine crash in that
// window can undo it, and it undoes every later write with it (the log is replayed as a prefix).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "storage/backend.h"

namespace rocksdb {
class OptimisticTransactionDB;
class Env;
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
  //
  // `env` replaces RocksDB's default environment (the tests use it to see what reached the disk);
  // it must outlive the backend.
  static Result<std::unique_ptr<RocksBackend>> open(const std::string& directory,
                                                    std::uint64_t min_free_bytes = 0,
                                                    rocksdb::Env* env = nullptr);
  ~RocksBackend() override;

  Result<std::uint64_t> apply(const Mutation& mutation) override;
  std::uint64_t applied() override { return writes_.load(); }
  // Returns once the write-ahead log is on disk up to the `ticket`-th write that returned. A
  // failed sync fails the backend: what the disk kept of the log is unknown, while what was
  // written is already readable. So from then on every call fails with that error, and nothing
  // that may not be on disk is acknowledged or read (a restart recovers what the disk kept).
  Status wait_durable(std::uint64_t ticket) override;
  Result<std::optional<std::string>> get(Table table, std::string_view key) override;
  Result<std::vector<std::optional<std::string>>> get_many(
      Table table, std::span<const std::string> keys) override;
  Result<std::vector<Entry>> scan(Table table, const ScanOptions& options) override;

 private:
  RocksBackend() = default;
  rocksdb::ColumnFamilyHandle* handle(Table table) const {
    return handles_[static_cast<size_t>(table)];
  }

  // Nothing when there is room to commit; otherwise why not. Asks the filesystem only when the
  // room it last saw could have run out since, not on every commit.
  Status check_free_space();

  // apply() of a mutation with inserts or expectations.
  Result<std::uint64_t> apply_conditional(const Mutation& mutation);

  Status failure();  // the failed sync's error

  std::string directory_;
  std::uint64_t min_free_bytes_ = 0;
  // Steady-clock microseconds before which the last look at the filesystem still holds.
  std::atomic<std::int64_t> free_space_known_until_{0};
  std::atomic<std::uint64_t> writes_{0};  // commits whose write has returned
  std::mutex sync_mutex_;
  std::condition_variable sync_done_;
  bool syncing_ = false;             // guarded by sync_mutex_: a committer is syncing the log
  std::uint64_t synced_ = 0;         // guarded by sync_mutex_: writes known to be on disk
  Status sync_failure_;              // guarded by sync_mutex_
  std::atomic<bool> failed_{false};  // set once sync_failure_ holds an error
  // Plain commits write to it as to any DB; a commit with conditions is an optimistic
  // transaction, checked inside RocksDB's write path against every write since its reads.
  std::unique_ptr<rocksdb::OptimisticTransactionDB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // indexed by Table; owned by db_
};

}  // namespace sluice::storage
