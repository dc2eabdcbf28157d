#include "queue/outbox.h"

#include <gtest/gtest.h>

#include "storage/mutation.h"
#include "storage/rocks/rocks_backend.h"
#include "tests/support/temp_directory.h"

namespace sluice::queue {
namespace {

std::vector<std::string> payloads(const std::vector<OutboxEntry>& entries) {
  std::vector<std::string> all;
  all.reserve(entries.size());
  for (const auto& entry : entries) all.push_back(entry.payload);
  return all;
}

class OutboxTest : public ::testing::Test {
 protected:
  // Added a millisecond after the one before (ids of one millisecond have no order).
  void add(const std::string& payload) {
    clock_.advance(1000);
    storage::Mutation mutation;
    outbox_.add(mutation, payload);
    ASSERT_TRUE(backend_->commit(mutation).ok());
  }
  void remove_all(const std::vector<OutboxEntry>& entries) {
    storage::Mutation removal;
    for (const auto& entry : entries) outbox_.remove(removal, entry);
    ASSERT_TRUE(backend_->commit(removal).ok());
  }

  testing::TempDirectory directory_;
  std::unique_ptr<storage::RocksBackend> backend_ =
      storage::RocksBackend::open(directory_.str()).value();
  ManualClock clock_{1'800'000'000'000'000};
  Outbox outbox_{*backend_, clock_, "mirror"};
};

TEST_F(OutboxTest, GivesTheOldestFirstAndCountsTheDepth) {
  const Micros start = clock_.now();
  for (const char* payload : {"a", "b", "c"}) add(payload);
  Outbox other(*backend_, clock_, "other");
  storage::Mutation elsewhere;
  other.add(elsewhere, "x");
  ASSERT_TRUE(backend_->commit(elsewhere).ok());

  EXPECT_EQ(*outbox_.depth(), 3);
  auto first = outbox_.oldest(2).value();
  EXPECT_EQ(payloads(first), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(first[0].added_at, start + 1000);
  remove_all(first);
  EXPECT_EQ(*outbox_.depth(), 1);
  EXPECT_EQ(payloads(outbox_.oldest(10).value()), (std::vector<std::string>{"c"}));
  EXPECT_EQ(payloads(other.oldest(10).value()), (std::vector<std::string>{"x"}));
}

// What a sender did not remove (its delivery failed) comes again, however the scans moved on.
TEST_F(OutboxTest, WhatWasNotRemovedComesAgain) {
  for (const char* payload : {"a", "b", "c"}) add(payload);
  remove_all(outbox_.oldest(1).value());
  EXPECT_EQ(payloads(outbox_.oldest(1).value()), (std::vector<std::string>{"b"}));
  EXPECT_EQ(payloads(outbox_.oldest(5).value()), (std::vector<std::string>{"b", "c"}));
  add("d");
  EXPECT_EQ(payloads(outbox_.oldest(5).value()), (std::vector<std::string>{"b", "c", "d"}));
}

// A scan that found entries far apart and a sender that removed only the newer ones: the older
// ones come again, without waiting for a scan from the start.
TEST_F(OutboxTest, AnOldEntryLeftBehindComesAgainAtOnce) {
  add("old");
  clock_.advance(2 * Outbox::kCommitMargin);
  add("new");
  auto found = outbox_.oldest(10).value();
  ASSERT_EQ(payloads(found), (std::vector<std::string>{"old", "new"}));
  remove_all({found[1]});
  EXPECT_EQ(payloads(outbox_.oldest(10).value()), (std::vector<std::string>{"old"}));
}

// After the clock stepped back, new entries carry ids below the scans' start: they are found at
// once all the same.
TEST_F(OutboxTest, EntriesAddedAfterTheClockSteppedBackAreFound) {
  add("before");
  remove_all(outbox_.oldest(10).value());
  clock_.advance(-30'000'000);
  add("after");
  EXPECT_EQ(payloads(outbox_.oldest(10).value()), (std::vector<std::string>{"after"}));
}

// Entries whose ids were taken before a newer one's but whose commits came after a scan had
// found the newer one: one within the margin is found by the next scan, one beyond it by the next
// scan from the start.
TEST_F(OutboxTest, AnEntryCommittedLateWithAnOlderIdStillLeaves) {
  storage::Mutation slow;
  outbox_.add(slow, "slow");
  clock_.advance(Outbox::kCommitMargin + 1000);
  storage::Mutation late;
  outbox_.add(late, "late");
  add("early");
  auto found = outbox_.oldest(10).value();
  ASSERT_EQ(payloads(found), (std::vector<std::string>{"early"}));
  remove_all(found);
  ASSERT_TRUE(backend_->commit(late).ok());
  ASSERT_TRUE(backend_->commit(slow).ok());
  EXPECT_EQ(*outbox_.depth(), 2);
  found = outbox_.oldest(10).value();
  ASSERT_EQ(payloads(found), (std::vector<std::string>{"late"}));
  remove_all(found);
  EXPECT_TRUE(outbox_.oldest(10).value().empty());  // below the scans' start: not yet
  clock_.advance(Outbox::kFullScanEvery);
  EXPECT_EQ(payloads(outbox_.oldest(10).value()), (std::vector<std::string>{"slow"}));
}

}  // namespace
}  // namespace sluice::queue
