#include "queue/dead_letter_store.h"

#include <gtest/gtest.h>

#include "storage/rocks/rocks_backend.h"
#include "tests/support/temp_directory.h"

namespace sluice::queue {
namespace {

TEST(DeadLetterStoreTest, AddsListsAndRemovesRecords) {
  testing::TempDirectory directory;
  auto backend = storage::RocksBackend::open(directory.str()).value();
  DeadLetterStore store(*backend, "alerts-deadletter");
  DeadLetterStore other(*backend, "other");

  storage::Mutation mutation;
  store.add(mutation, "e1", R"({"n":1})");
  store.add(mutation, "e2", R"({"n":2})");
  other.add(mutation, "e3", R"({"n":3})");
  ASSERT_TRUE(backend->commit(mutation).ok());

  EXPECT_EQ(*store.count(), 2);
  EXPECT_EQ(store.get("e2").value()->record, R"({"n":2})");
  EXPECT_FALSE(store.get("e3").value().has_value());
  auto page = store.list(std::nullopt, 1).value();
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].id, "e1");
  EXPECT_EQ(store.list("e1", 10).value()[0].id, "e2");

  storage::Mutation removal;
  store.remove(removal, "e1");
  ASSERT_TRUE(backend->commit(removal).ok());
  EXPECT_EQ(*store.count(), 1);
  EXPECT_FALSE(store.get("e1").value().has_value());
}

}  // namespace
}  // namespace sluice::queue
