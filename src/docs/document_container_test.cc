#include "docs/document_container.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "storage/rocks/rocks_backend.h"
#include "tests/support/temp_directory.h"

namespace sluice::docs {
namespace {

namespace json = boost::json;

class DocumentContainerTest : public ::testing::Test {
 protected:
  void commit(const std::function<Status(storage::Mutation&)>& build) {
    storage::Mutation mutation;
    ASSERT_TRUE(build(mutation).ok());
    ASSERT_TRUE(backend_->commit(mutation).ok());
  }

  testing::TempDirectory directory_;
  std::unique_ptr<storage::RocksBackend> backend_ =
      storage::RocksBackend::open(directory_.str()).value();
  DocumentContainer events_{*backend_, "events", "/stream_id"};
  DocumentContainer stats_{*backend_, "stats", "/stream_id"};
};

TEST_F(DocumentContainerTest, UpsertReadAndDelete) {
  commit([&](auto& m) { return events_.upsert(m, {{"id", "e1"}, {"stream_id", "s1"}, {"n", 1}}); });
  commit([&](auto& m) { return events_.upsert(m, {{"id", "e1"}, {"stream_id", "s1"}, {"n", 2}}); });
  EXPECT_EQ(events_.read("s1", "e1").value()->at("n").as_int64(), 2);
  EXPECT_FALSE(events_.read("s2", "e1").value().has_value());  // other partition
  EXPECT_FALSE(stats_.read("s1", "e1").value().has_value());   // other container
  commit([&](auto& m) { return events_.erase(m, "s1", "e1"); });
  EXPECT_FALSE(events_.read("s1", "e1").value().has_value());
}

TEST_F(DocumentContainerTest, PatchIncrementsAndCreates) {
  storage::DocumentPatch patch;
  patch.increment({"followers"}, 1);
  commit([&](auto& m) { return stats_.patch(m, "s1", "s1", patch); });
  commit([&](auto& m) { return stats_.patch(m, "s1", "s1", patch); });
  auto stats = stats_.read("s1", "s1").value();
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->at("followers").as_int64(), 2);
  EXPECT_EQ(stats->at("stream_id").as_string(), "s1");
  EXPECT_EQ(stats->at("id").as_string(), "s1");
}

TEST_F(DocumentContainerTest, ListsOnePartitionInPages) {
  for (const char* id : {"a", "b", "c", "d", "e"}) {
    commit([&](auto& m) { return events_.upsert(m, {{"id", id}, {"stream_id", "s1"}}); });
  }
  commit([&](auto& m) { return events_.upsert(m, {{"id", "z"}, {"stream_id", "s2"}}); });

  std::vector<std::string> seen;
  ListOptions options{.limit = 2};
  int pages = 0;
  while (true) {
    auto page = events_.list("s1", options).value();
    ++pages;
    for (const auto& item : page.items) seen.emplace_back(item.at("id").as_string());
    if (!page.next_cursor) break;
    options.cursor = page.next_cursor;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d", "e"}));

  auto newest = events_.list("s1", {.limit = 2, .descending = true}).value();
  ASSERT_EQ(newest.items.size(), 2u);
  EXPECT_EQ(newest.items[0].at("id").as_string(), "e");
  EXPECT_EQ(newest.next_cursor, "d");
}

TEST_F(DocumentContainerTest, RefusesDocumentsWithoutKeys) {
  storage::Mutation mutation;
  EXPECT_FALSE(events_.upsert(mutation, {{"stream_id", "s1"}}).ok());
  EXPECT_FALSE(events_.upsert(mutation, {{"id", "e1"}}).ok());
  EXPECT_FALSE(events_.upsert(mutation, {{"id", ""}, {"stream_id", "s1"}}).ok());
  EXPECT_FALSE(events_.read(std::string("s\0x", 3), "e1").ok());
  EXPECT_TRUE(mutation.empty());
}

}  // namespace
}  // namespace sluice::docs
