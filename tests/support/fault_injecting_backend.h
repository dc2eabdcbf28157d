#pragma once

// FaultInjectingBackend: a MemoryBackend seen through faults a test chooses, in the manner of
// LevelDB's fault-injection environment. It can fail the Nth commit, report the disk full, stall
// or fail a sync, and crash: after the Nth commit every call fails, as if the process had died
// right after writing it (the commit was applied, not synced). Then the test drops the system
// built on it, calls MemoryBackend::lose_unsynced() if the machine lost power too, and builds the
// system again on a fresh wrapper of the same MemoryBackend to watch it recover.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "storage/memory/memory_backend.h"

namespace sluice::testing {

class FaultInjectingBackend final : public storage::Backend {
 public:
  explicit FaultInjectingBackend(storage::MemoryBackend& disk) : disk_(disk) {}

  // Commits (apply() calls) that went through so far.
  std::uint64_t commits() const { return commits_.load(); }
  // Commit attempts, failed or not.
  std::uint64_t attempts() const { return attempts_.load(); }
  // The `n`th commit goes through and then the process "dies": every later call fails. With n =
  // 0 the first commit already fails.
  void crash_after_commit(std::uint64_t n) { crash_after_ = n; }
  bool crashed() const { return crashed_.load(); }
  // The `n`th commit attempt (counting from 1) fails with an I/O error and changes nothing.
  void fail_commit_attempt(std::uint64_t n) { fail_attempt_ = n; }
  // While set, commits fail with ResourceExhausted, as RocksBackend's do below its reserve.
  void set_disk_full(bool full) { disk_full_ = full; }
  // While set, syncs wait (a disk that hangs); a crash releases them with an error.
  void stall_syncs(bool stall) {
    std::lock_guard lock(mutex_);
    stalled_ = stall;
    released_.notify_all();
  }
  // The next sync fails, and from then on every call, as RocksBackend does after a failed sync.
  void fail_next_sync() { fail_sync_ = true; }

  Result<std::uint64_t> apply(const storage::Mutation& mutation) override {
    std::lock_guard order(apply_mutex_);  // commits are counted in the order they are applied
    if (crashed_) return dead();
    const std::uint64_t attempt = ++attempts_;
    if (commits_ >= crash_after_) {
      crash();
      return dead();
    }
    if (attempt == fail_attempt_) return io_error("injected: commit failed");
    if (disk_full_) return resource_exhausted("injected: the disk is full");
    SLUICE_ASSIGN_OR_RETURN(const std::uint64_t ticket, disk_.apply(mutation));
    if (++commits_ >= crash_after_) crash();
    return ticket;
  }
  std::uint64_t applied() override { return disk_.applied(); }
  Status wait_durable(std::uint64_t ticket) override {
    {
      std::unique_lock lock(mutex_);
      released_.wait(lock, [&] { return !stalled_ || crashed_; });
    }
    if (crashed_) return dead();
    if (fail_sync_.exchange(false)) {
      crash();  // nothing is read or written any more, as after RocksBackend's failed sync
      return io_error("injected: sync failed");
    }
    return disk_.wait_durable(ticket);
  }
  Result<std::optional<std::string>> get(storage::Table table, std::string_view key) override {
    if (crashed_) return dead();
    return disk_.get(table, key);
  }
  Result<std::vector<std::optional<std::string>>> get_many(
      storage::Table table, std::span<const std::string> keys) override {
    if (crashed_) return dead();
    return disk_.get_many(table, keys);
  }
  Result<std::vector<storage::Entry>> scan(storage::Table table,
                                           const storage::ScanOptions& options) override {
    if (crashed_) return dead();
    return disk_.scan(table, options);
  }

 private:
  static Status dead() { return unavailable("injected: the process has crashed"); }
  void crash() {
    std::lock_guard lock(mutex_);
    crashed_ = true;
    released_.notify_all();
  }

  storage::MemoryBackend& disk_;
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> attempts_{0};
  std::atomic<std::uint64_t> crash_after_{UINT64_MAX};
  std::atomic<std::uint64_t> fail_attempt_{0};
  std::atomic<bool> disk_full_{false};
  std::atomic<bool> fail_sync_{false};
  std::atomic<bool> crashed_{false};
  std::mutex apply_mutex_;
  std::mutex mutex_;
  std::condition_variable released_;
  bool stalled_ = false;  // guarded by mutex_
};

}  // namespace sluice::testing
