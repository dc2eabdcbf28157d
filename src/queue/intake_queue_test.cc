#include "queue/intake_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "storage/rocks/rocks_backend.h"
#include "tests/support/temp_directory.h"

namespace sluice::queue {
namespace {

using storage::Table;

class IntakeQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen(std::int64_t max_depth = INT64_MAX) {
    queue_.reset();
    backend_.reset();
    backend_ = storage::RocksBackend::open(directory_.str()).value();
    queue_ = IntakeQueue::open(*backend_, clock_, "alerts", max_depth).value();
  }

  static std::vector<NewMessage> messages(std::initializer_list<const char*> ids) {
    std::vector<NewMessage> result;
    for (const char* id : ids) result.push_back({id, std::string("body-") + id});
    return result;
  }

  std::vector<std::string> leased_ids(std::size_t max) {
    std::vector<std::string> ids;
    for (const auto& message : queue_->lease(max).value()) ids.push_back(message.id);
    return ids;
  }

  testing::TempDirectory directory_;
  ManualClock clock_{1'700'000'000'000'000};
  std::unique_ptr<storage::RocksBackend> backend_;
  std::unique_ptr<IntakeQueue> queue_;
};

TEST_F(IntakeQueueTest, AppendedMessagesAreLeasedInOrder) {
  auto outcome = queue_->append_and_wait(messages({"a", "b", "c"}));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->accepted(), 3u);
  auto leased = queue_->lease(10).value();
  ASSERT_EQ(leased.size(), 3u);
  EXPECT_EQ(leased[0].id, "a");
  EXPECT_EQ(leased[0].body, "body-a");
  EXPECT_EQ(leased[0].enqueued_at, clock_.now());
  EXPECT_LT(leased[0].sequence, leased[1].sequence);
  EXPECT_EQ(leased[2].id, "c");
  EXPECT_TRUE(queue_->lease(10).value().empty());  // all leased
  EXPECT_EQ(queue_->stats()->in_flight, 3u);
}

TEST_F(IntakeQueueTest, DuplicatesAreNotQueuedAgainEvenAfterTake) {
  ASSERT_TRUE(queue_->append_and_wait(messages({"a", "b"})).ok());
  auto outcome = queue_->append_and_wait(messages({"b", "c", "c"}));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->duplicate, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(queue_->stats()->depth, 3);

  // Taken and gone from the queue, "a" is still known.
  auto leased = queue_->lease(1).value();
  storage::Mutation mutation;
  queue_->take(mutation, leased[0]);
  ASSERT_TRUE(backend_->commit(mutation).ok());
  queue_->settle(std::vector<std::uint64_t>{leased[0].sequence}, true);
  EXPECT_EQ(queue_->stats()->depth, 2);
  reopen();
  EXPECT_EQ(queue_->append_and_wait(messages({"a"}))->duplicate, std::vector<bool>{true});
  EXPECT_EQ(queue_->stats()->depth, 2);
}

TEST_F(IntakeQueueTest, TakeCommitsWithTheConsumersWrites) {
  ASSERT_TRUE(queue_->append_and_wait(messages({"a", "b"})).ok());
  auto leased = queue_->lease(2).value();
  ASSERT_EQ(leased.size(), 2u);

  // "a" is processed: its take and its result commit together.
  storage::Mutation processed;
  queue_->take(processed, leased[0]);
  processed.put(Table::kDocuments, "result-a", "done");
  ASSERT_TRUE(backend_->commit(processed).ok());

  // "b" is leased, but the process dies before its mutation commits.
  storage::Mutation lost;
  queue_->take(lost, leased[1]);
  lost.put(Table::kDocuments, "result-b", "done");
  reopen();

  EXPECT_EQ(leased_ids(10), std::vector<std::string>{"b"});
  EXPECT_EQ(*backend_->get(Table::kDocuments, "result-a").value(), "done");
  EXPECT_FALSE(backend_->get(Table::kDocuments, "result-b").value().has_value());
  EXPECT_EQ(queue_->stats()->depth, 1);
}

TEST_F(IntakeQueueTest, ABatchBeyondTheBoundIsRefusedWholeUntilTakesMakeRoom) {
  reopen(3);
  ASSERT_TRUE(queue_->append_and_wait(messages({"a", "b"})).ok());
  auto refused = queue_->append_and_wait(messages({"c", "d"}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(queue_->stats()->depth, 2);  // nothing of the refused batch was queued
  // Duplicates take no room: a repost of "a" with one new message fits.
  auto mixed = queue_->append_and_wait(messages({"a", "c"}));
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed->accepted(), 1u);
  EXPECT_EQ(queue_->append_and_wait(messages({"d"})).status().code(),
            StatusCode::kResourceExhausted);

  // Taking one makes room for one, and the bound holds across a restart.
  auto leased = queue_->lease(1).value();
  storage::Mutation processed;
  queue_->take(processed, leased[0]);
  ASSERT_TRUE(backend_->commit(processed).ok());
  const std::uint64_t sequence = leased[0].sequence;
  queue_->settle({&sequence, 1}, true);
  EXPECT_TRUE(queue_->append_and_wait(messages({"d"})).ok());
  reopen(3);
  EXPECT_EQ(queue_->append_and_wait(messages({"e"})).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(leased_ids(10), (std::vector<std::string>{"b", "c", "d"}));
}

TEST_F(IntakeQueueTest, SettledWithoutTakeIsLeasedAgain) {
  ASSERT_TRUE(queue_->append_and_wait(messages({"a", "b", "c"})).ok());
  auto leased = queue_->lease(2).value();
  queue_->settle(std::vector<std::uint64_t>{leased[0].sequence}, false);
  EXPECT_EQ(leased_ids(10), (std::vector<std::string>{"a", "c"}));
}

TEST_F(IntakeQueueTest, SequencesAreNeverReusedAfterRestart) {
  ASSERT_TRUE(queue_->append_and_wait(messages({"a"})).ok());
  auto first = queue_->lease(1).value();
  storage::Mutation mutation;
  queue_->take(mutation, first[0]);
  ASSERT_TRUE(backend_->commit(mutation).ok());
  reopen();
  ASSERT_TRUE(queue_->append_and_wait(messages({"b"})).ok());
  EXPECT_GT(queue_->lease(1).value()[0].sequence, first[0].sequence);
}

TEST_F(IntakeQueueTest, StatsReportOldestMessage) {
  EXPECT_FALSE(queue_->stats()->oldest_enqueued.has_value());
  const Micros first_time = clock_.now();
  ASSERT_TRUE(queue_->append_and_wait(messages({"a"})).ok());
  clock_.advance(5'000'000);
  ASSERT_TRUE(queue_->append_and_wait(messages({"b"})).ok());
  EXPECT_EQ(queue_->stats()->oldest_enqueued, first_time);
}

TEST_F(IntakeQueueTest, ConcurrentAppendsAreAllKeptExactlyOnce) {
  constexpr int kThreads = 8, kPerThread = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every id is sent by two threads: exactly one copy must be kept.
        const std::string id = "e" + std::to_string((t / 2) * kPerThread + i);
        auto outcome = queue_->append_and_wait({{id, "x"}});
        if (!outcome.ok()) ++failures;
      }
    });
  }
  for (auto& producer : producers) producer.join();
  EXPECT_EQ(failures, 0);
  constexpr int kDistinct = kThreads / 2 * kPerThread;
  EXPECT_EQ(queue_->stats()->depth, kDistinct);
  std::set<std::string> ids;
  for (const auto& message : queue_->lease(10'000).value()) {
    EXPECT_TRUE(ids.insert(message.id).second) << message.id;
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kDistinct));
}

TEST_F(IntakeQueueTest, AppendAfterStopIsRefused) {
  queue_->stop();
  auto outcome = queue_->append_and_wait(messages({"a"}));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sluice::queue
