#include "storage/rocks/rocks_backend.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "storage/document_patch.h"
#include "tests/support/temp_directory.h"

namespace sluice::storage {
namespace {

std::unique_ptr<RocksBackend> open_backend(const std::string& directory) {
  auto backend = RocksBackend::open(directory);
  EXPECT_TRUE(backend.ok()) << backend.status().to_string();
  return backend.ok() ? std::move(backend).value() : nullptr;
}

TEST(RocksBackendTest, OpenFailsOnUnwritableDirectory) {
  if (geteuid() == 0) GTEST_SKIP() << "root can write anywhere";
  testing::TempDirectory directory;
  std::filesystem::permissions(
      directory.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  EXPECT_FALSE(RocksBackend::open(directory.str() + "/data").ok());
}

TEST(RocksBackendTest, SecondOpenOfSameDirectoryFails) {
  testing::TempDirectory directory;
  auto first = open_backend(directory.str());
  auto second = RocksBackend::open(directory.str());
  EXPECT_FALSE(second.ok());
}

TEST(RocksBackendTest, OpenFailsWhereAFileStands) {
  testing::TempDirectory directory;
  const std::string file = directory.str() + "/file";
  std::ofstream(file) << "x";
  EXPECT_FALSE(RocksBackend::open(file).ok());
}

// Files RocksDB no longer needs are released in the background, through a trash of files being
// truncated; whatever the release leaves must go away on its own.
std::vector<std::string> files_ending(const std::string& directory, std::string_view suffix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(suffix)) names.push_back(name);
  }
  return names;
}

// Polls until `done` holds or a minute has passed; returns whether it held.
template <typename Done>
bool eventually(Done done) {
  for (int i = 0; i < 600; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

TEST(RocksBackendTest, TrashLeftByACrashIsDeletedAfterOpen) {
  testing::TempDirectory directory;
  open_backend(directory.str()).reset();
  // What a crash in the middle of a release leaves: a file moved aside, partly truncated.
  std::ofstream(directory.str() + "/000042.sst.trash") << std::string(3 << 20, 'x');
  auto backend = open_backend(directory.str());
  EXPECT_TRUE(eventually([&] { return files_ending(directory.str(), ".trash").empty(); }));
}

TEST(RocksBackendTest, ReplacedLogFilesAreReleased) {
  testing::TempDirectory directory;
  // Each open replays the log into a table file and starts a new log; the old one is obsolete.
  for (int round = 0; round < 5; ++round) {
    auto backend = open_backend(directory.str());
    Mutation mutation;
    mutation.put(Table::kQueue, "round" + std::to_string(round), std::string(1 << 20, 'r'));
    ASSERT_TRUE(backend->commit(mutation).ok());
  }
  auto backend = open_backend(directory.str());
  EXPECT_TRUE(eventually([&] {
    return files_ending(directory.str(), ".trash").empty() &&
           files_ending(directory.str(), ".log").size() <= 2;
  })) << files_ending(directory.str(), ".log").size()
      << " log files remain";
  for (int round = 0; round < 5; ++round) {
    EXPECT_TRUE(backend->get(Table::kQueue, "round" + std::to_string(round)).value().has_value());
  }
}

// What a machine crash would leave of each file: as much as was on disk at its last sync. A power
// cut cannot be caused here, so syncs are watched through RocksDB's FileSystem seam. Syncs can
// also be made to fail, as a failing disk's would.
class SyncWatchingFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  SyncWatchingFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "SyncWatchingFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    rocksdb::IOStatus status = target()->NewWritableFile(name, options, file, debug);
    if (status.ok()) *file = std::make_unique<WatchedFile>(std::move(*file), name, *this);
    return status;
  }

  // Copies `from` to `to` as a machine crash would leave it: every log file cut back to its last
  // sync. Call it while nothing writes.
  void copy_as_after_crash(const std::string& from, const std::string& to) {
    std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
    std::lock_guard lock(mutex_);
    for (const auto& entry : std::filesystem::directory_iterator(to)) {
      if (entry.path().extension() != ".log") continue;
      const auto synced = synced_.find(from + "/" + entry.path().filename().string());
      std::filesystem::resize_file(entry.path(), synced == synced_.end() ? 0 : synced->second);
    }
  }

  void fail_syncs(bool fail) { failing_ = fail; }

 private:
  class WatchedFile final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    WatchedFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::string name,
                SyncWatchingFileSystem& watcher)
        : FSWritableFileOwnerWrapper(std::move(file)), name_(std::move(name)), watcher_(watcher) {}
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* debug) override {
      return watcher_.synced(name_, [&] { return target()->Sync(options, debug); });
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* debug) override {
      return watcher_.synced(name_, [&] { return target()->Fsync(options, debug); });
    }

   private:
    const std::string name_;
    SyncWatchingFileSystem& watcher_;
  };

  // A sync makes durable what the file held when it began.
  template <typename Sync>
  rocksdb::IOStatus synced(const std::string& name, Sync sync) {
    if (failing_) return rocksdb::IOStatus::IOError("the disk failed a sync");
    const std::uintmax_t size = std::filesystem::file_size(name);
    rocksdb::IOStatus status = sync();
    if (status.ok()) {
      std::lock_guard lock(mutex_);
      synced_[name] = std::max<std::uintmax_t>(synced_[name], size);
    }
    return status;
  }

  std::atomic<bool> failing_{false};
  std::mutex mutex_;
  std::map<std::string, std::uintmax_t> synced_;  // guarded by mutex_
};

TEST(RocksBackendTest, EveryReturnedCommitSurvivesAMachineCrash) {
  testing::TempDirectory directory;
  auto watcher = std::make_shared<SyncWatchingFileSystem>();
  auto env = rocksdb::NewCompositeEnv(watcher);
  const std::string live = directory.str() + "/live";
  auto backend = RocksBackend::open(live, 0, env.get());
  ASSERT_TRUE(backend.ok()) << backend.status().to_string();
  // Concurrent committers share syncs; each must still return only once its own write is on disk.
  std::vector<std::thread> committers;
  for (int t = 0; t < 4; ++t) {
    committers.emplace_back([&backend, t] {
      for (int i = 0; i < 100; ++i) {
        Mutation mutation;
        mutation.put(Table::kQueue, fmt::format("{}-{}", t, i), std::string(100, 'v'));
        mutation.add("commits", 1);
        ASSERT_TRUE((*backend)->commit(mutation).ok());
      }
    });
  }
  for (auto& committer : committers) committer.join();

  const std::string crashed = directory.str() + "/crashed";
  watcher->copy_as_after_crash(live, crashed);
  auto recovered = open_backend(crashed);
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 100; ++i) {
      EXPECT_TRUE(recovered->get(Table::kQueue, fmt::format("{}-{}", t, i)).value().has_value())
          << t << "-" << i;
    }
  }
  EXPECT_EQ(*recovered->counter("commits"), 400);
}

TEST(RocksBackendTest, AFailedSyncFailsThatCommitAndEveryLaterCall) {
  testing::TempDirectory directory;
  auto watcher = std::make_shared<SyncWatchingFileSystem>();
  auto env = rocksdb::NewCompositeEnv(watcher);
  auto backend = RocksBackend::open(directory.str(), 0, env.get());
  ASSERT_TRUE(backend.ok()) << backend.status().to_string();
  Mutation mutation;
  mutation.put(Table::kQueue, "a", "1");
  ASSERT_TRUE((*backend)->commit(mutation).ok());

  watcher->fail_syncs(true);
  const Status failed = (*backend)->commit(mutation);
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("sync"), std::string::npos) << failed.to_string();
  // The disk answers again, but what it kept of the log is unknown, while the failed commit's
  // write is in memory: nothing more is acknowledged, and nothing is read that may not be on disk.
  watcher->fail_syncs(false);
  EXPECT_FALSE((*backend)->commit(mutation).ok());
  EXPECT_FALSE((*backend)->get(Table::kQueue, "a").ok());
  EXPECT_FALSE((*backend)->get_many(Table::kQueue, std::vector<std::string>{"a"}).ok());
  EXPECT_FALSE((*backend)->scan(Table::kQueue, ScanOptions{}).ok());

  // A restart recovers what the disk kept.
  backend->reset();
  auto reopened = RocksBackend::open(directory.str(), 0, env.get());
  ASSERT_TRUE(reopened.ok()) << reopened.status().to_string();
  EXPECT_EQ(*(*reopened)->get(Table::kQueue, "a").value(), "1");
}

}  // namespace
}  // namespace sluice::storage
