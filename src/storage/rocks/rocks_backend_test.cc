#include "storage/rocks/rocks_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
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

TEST(RocksBackendTest, CommitsAreReadBackAfterReopen) {
  testing::TempDirectory directory;
  {
    auto backend = open_backend(directory.str());
    Mutation mutation;
    mutation.put(Table::kQueue, "q\0a", "1");
    mutation.put(Table::kDocuments, "doc", R"({"x":1})");
    mutation.add("depth", 5);
    ASSERT_TRUE(backend->commit(mutation).ok());
  }
  auto backend = open_backend(directory.str());
  EXPECT_EQ(*backend->get(Table::kQueue, "q\0a").value(), "1");
  EXPECT_EQ(*backend->get(Table::kDocuments, "doc").value(), R"({"x":1})");
  EXPECT_FALSE(backend->get(Table::kQueue, "doc").value().has_value());  // tables are apart
  EXPECT_EQ(*backend->counter("depth"), 5);
  EXPECT_EQ(*backend->counter("never"), 0);
}

TEST(RocksBackendTest, CountersAndPatchesMergeWithoutReads) {
  testing::TempDirectory directory;
  auto backend = open_backend(directory.str());
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&backend] {
      for (int i = 0; i < 50; ++i) {
        Mutation mutation;
        mutation.add("total", 2);
        DocumentPatch patch;
        patch.increment({"events"}, 1);
        mutation.patch("stats", patch);
        ASSERT_TRUE(backend->commit(mutation).ok());
      }
    });
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(*backend->counter("total"), 400);
  auto stats = backend->get(Table::kDocuments, "stats");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(boost::json::parse(**stats).at("events").as_int64(), 200);
}

TEST(RocksBackendTest, PatchesStackedWithoutADocumentKeepTheirOrderThroughAFlush) {
  testing::TempDirectory directory;
  {
    auto backend = open_backend(directory.str());
    for (int i = 1; i <= 5; ++i) {
      Mutation mutation;
      DocumentPatch patch;
      patch.increment({"n"}, i).assign({"last"}, boost::json::string(std::to_string(i)));
      mutation.patch("stats", patch);
      ASSERT_TRUE(backend->commit(mutation).ok());
    }
  }
  // Reopening replays the log and flushes it: the five operands, with no document under them,
  // are merged into one on the way to the table file.
  auto backend = open_backend(directory.str());
  auto stats = backend->get(Table::kDocuments, "stats");
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  EXPECT_EQ(boost::json::parse(**stats), boost::json::parse(R"({"n":15,"last":"5"})"));
}

TEST(RocksBackendTest, ErasesAndScansInOrderBothWays) {
  testing::TempDirectory directory;
  auto backend = open_backend(directory.str());
  Mutation mutation;
  for (const char* key : {"a/1", "a/2", "a/3", "a/4", "b/1"}) mutation.put(Table::kMeta, key, key);
  mutation.erase(Table::kMeta, "a/3");
  ASSERT_TRUE(backend->commit(mutation).ok());

  auto keys = [&](ScanOptions options) {
    std::vector<std::string> found;
    for (auto& entry : backend->scan(Table::kMeta, options).value()) found.push_back(entry.key);
    return found;
  };
  using Keys = std::vector<std::string>;
  EXPECT_EQ(keys({.prefix = "a/"}), (Keys{"a/1", "a/2", "a/4"}));
  EXPECT_EQ(keys({.prefix = "a/", .after = "a/1", .limit = 1}), (Keys{"a/2"}));
  EXPECT_EQ(keys({.prefix = "a/", .reverse = true}), (Keys{"a/4", "a/2", "a/1"}));
  EXPECT_EQ(keys({.prefix = "a/", .after = "a/4", .reverse = true}), (Keys{"a/2", "a/1"}));
  EXPECT_EQ(keys({.prefix = "b/"}), (Keys{"b/1"}));
  EXPECT_EQ(keys({.prefix = "c/"}), Keys{});

  std::vector<std::string> wanted = {"a/1", "a/3", "b/1"};
  auto values = backend->get_many(Table::kMeta, wanted);
  ASSERT_TRUE(values.ok());
  EXPECT_EQ((*values)[0], "a/1");
  EXPECT_FALSE((*values)[1].has_value());
  EXPECT_EQ((*values)[2], "b/1");
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

}  // namespace
}  // namespace sluice::storage
