#include "queue/intake_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "storage/cluster.h"
#include "storage/key_encoding.h"
#include "storage/memory/memory_backend.h"
#include "storage/rocks/rocks_backend.h"
#include "tests/support/fault_injecting_backend.h"
#include "tests/support/temp_directory.h"

namespace sluice::queue {
namespace {

using storage::Table;

class IntakeQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen(std::int64_t max_depth = INT64_MAX) { reopen_with({.max_depth = max_depth}); }
  void reopen_with(IntakeOptions options) {
    queue_.reset();
    backend_.reset();
    clock_.advance(1'000'000);  // a restart takes time: lanes order by when they opened
    backend_ = storage::RocksBackend::open(directory_.str()).value();
    queue_ = IntakeQueue::open(*backend_, clock_, "alerts", options).value();
  }

  // Takes every message leased, committed; returns their ids in lease order.
  std::vector<std::string> take_all(IntakeQueue& queue,
                                    const IntakeQueue::PartitionFilter& wanted = {}) {
    std::vector<std::string> ids;
    auto leased = queue.lease(10'000, wanted).value();
    storage::Mutation mutation;
    std::vector<Position> positions;
    for (const auto& message : leased) {
      queue.take(mutation, message);
      positions.push_back(message.position);
      ids.push_back(message.id);
    }
    EXPECT_TRUE(backend_->commit(mutation).ok());
    queue.settle(positions, true);
    return ids;
  }

  static std::vector<NewMessage> messages(std::initializer_list<const char*> ids) {
    std::vector<NewMessage> result;
    for (const char* id : ids) result.push_back({id, std::string("body-") + id});
    return result;
  }

  static std::vector<std::string> sorted(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
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
  EXPECT_LT(leased[0].position, leased[1].position);
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
  queue_->settle(std::vector<Position>{leased[0].position}, true);
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
  const Position position = leased[0].position;
  queue_->settle({&position, 1}, true);
  EXPECT_TRUE(queue_->append_and_wait(messages({"d"})).ok());
  reopen(3);
  EXPECT_EQ(queue_->append_and_wait(messages({"e"})).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(leased_ids(10), (std::vector<std::string>{"b", "c", "d"}));
}

TEST_F(IntakeQueueTest, SettledWithoutTakeIsLeasedAgain) {
  ASSERT_TRUE(queue_->append_and_wait(messages({"a", "b", "c"})).ok());
  auto leased = queue_->lease(2).value();
  queue_->settle(std::vector<Position>{leased[0].position}, false);
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
  EXPECT_GT(queue_->lease(1).value()[0].position, first[0].position);
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

TEST_F(IntakeQueueTest, MessagesOfTheLayoutBeforeLanesAreMovedIntoALaneInOrder) {
  queue_.reset();
  {
    // What a queue of the earlier layout left: keys by sequence, one next sequence, one counter.
    storage::Mutation earlier;
    for (std::uint64_t sequence : {7, 8, 9}) {
      const std::string id = "old" + std::to_string(sequence);
      std::string key = storage::key_prefix({"alerts"});
      storage::append_big_endian(key, sequence);
      earlier.put(Table::kQueue, key, encode_message({{}, id, clock_.now(), "body-" + id}));
    }
    std::string next;
    storage::append_big_endian(next, 10);
    earlier.put(Table::kMeta, storage::key_prefix({"queue", "alerts"}) + "next", next);
    ASSERT_TRUE(backend_->commit(earlier).ok());
  }
  reopen_with({.partitions = 3});
  EXPECT_EQ(queue_->stats()->depth, 3);
  ASSERT_TRUE(queue_->append_and_wait(messages({"new"})).ok());
  // Within each partition the old lane comes first; across partitions, any order.
  const auto leased = queue_->lease(10).value();
  ASSERT_EQ(leased.size(), 4u);
  std::vector<std::string> ids;
  for (const auto& message : leased) {
    ids.push_back(message.id);
    EXPECT_EQ(message.body, "body-" + message.id);
    EXPECT_EQ(message.position.partition, storage::partition_of(message.id, 3)) << message.id;
  }
  EXPECT_EQ(sorted(ids), (std::vector<std::string>{"new", "old7", "old8", "old9"}));
  EXPECT_FALSE(backend_->get(Table::kMeta, storage::key_prefix({"queue", "alerts"}) + "next")
                   .value()
                   .has_value());
}

TEST_F(IntakeQueueTest, AChangedPartitionCountMovesWaitingMessagesToTheirPartitions) {
  reopen_with({.partitions = 1});
  ASSERT_TRUE(queue_->append_and_wait(messages({"a", "b", "c", "d", "e", "f"})).ok());
  reopen_with({.partitions = 4});
  EXPECT_EQ(queue_->stats()->depth, 6);
  for (unsigned partition = 0; partition < 4; ++partition) {
    for (const auto& message :
         queue_->lease(10, [&](unsigned p) { return p == partition; }).value()) {
      EXPECT_EQ(message.position.partition, partition);
      EXPECT_EQ(storage::partition_of(message.id, 4), partition) << message.id;
    }
  }
  reopen_with({.partitions = 2});
  EXPECT_EQ(queue_->stats()->depth, 6);
  EXPECT_EQ(sorted(take_all(*queue_)), (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(queue_->stats()->depth, 0);
}

TEST_F(IntakeQueueTest, QueuesOnSeveralNodesAppendSideBySideAndEachConsumerTakesItsPartitions) {
  reopen_with({.partitions = 2, .sole_writer = false});
  auto other =
      IntakeQueue::open(*backend_, clock_, "alerts", {.partitions = 2, .sole_writer = false})
          .value();
  std::atomic<int> failures = 0;
  std::thread here([&] {
    for (int i = 0; i < 200; ++i) {
      if (!queue_->append_and_wait({{"h" + std::to_string(i), "x"}}).ok()) ++failures;
    }
  });
  std::thread there([&] {
    for (int i = 0; i < 200; ++i) {
      // Half of these ids are appended here too: each is queued once.
      if (!other->append_and_wait({{(i % 2 ? "h" : "t") + std::to_string(i), "x"}}).ok())
        ++failures;
    }
  });
  here.join();
  there.join();
  EXPECT_EQ(failures, 0);
  // Two consumers, one per partition, as two nodes would.
  const auto zero = take_all(*queue_, [](unsigned p) { return p == 0; });
  const auto one = take_all(*other, [](unsigned p) { return p == 1; });
  std::set<std::string> taken;
  for (const auto& id : zero) EXPECT_EQ(storage::partition_of(id, 2), 0u) << id;
  for (const auto& id : one) EXPECT_EQ(storage::partition_of(id, 2), 1u) << id;
  taken.insert(zero.begin(), zero.end());
  taken.insert(one.begin(), one.end());
  // Ids both appended at once are queued once, by one queue or the other; none is lost.
  EXPECT_EQ(zero.size() + one.size(), taken.size());
  EXPECT_EQ(taken.size(), 300u);
  EXPECT_EQ(queue_->stats()->depth, 0);
}

TEST_F(IntakeQueueTest, AClosedLaneIsForgottenOnceDrainedAndAnOpenOneIsKept) {
  reopen_with({.sole_writer = false});
  auto other = IntakeQueue::open(*backend_, clock_, "alerts", {.sole_writer = false}).value();
  ASSERT_TRUE(other->append_and_wait(messages({"a", "b"})).ok());
  ASSERT_TRUE(queue_->append_and_wait(messages({"c"})).ok());
  other->stop();                                          // its node stops: its lane is closed
  EXPECT_EQ(queue_->forget_drained_lanes().value(), 0u);  // "a" and "b" wait in it
  EXPECT_EQ(sorted(take_all(*queue_)), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(queue_->forget_drained_lanes().value(), 1u);  // the closed one; this one is open
  ASSERT_TRUE(queue_->append_and_wait(messages({"d"})).ok());
  EXPECT_EQ(take_all(*queue_), std::vector<std::string>{"d"});
}

TEST_F(IntakeQueueTest, TheLaneOfAWriterGoneIsClosedByAnotherAndOpenedAgainIfItReturns) {
  reopen_with({.sole_writer = false, .writer = "here"});
  auto other =
      IntakeQueue::open(*backend_, clock_, "alerts", {.sole_writer = false, .writer = "there"})
          .value();
  ASSERT_TRUE(other->append_and_wait(messages({"a"})).ok());
  ASSERT_TRUE(queue_->append_and_wait(messages({"b"})).ok());
  auto gone = [](std::string_view writer) { return writer == "there" || writer == "here"; };
  EXPECT_EQ(queue_->close_lanes_of(gone).value(), 1u);  // never its own
  EXPECT_EQ(queue_->close_lanes_of(gone).value(), 0u);  // closed already
  // "there" was only paused: it appends again, and its lane is open again.
  ASSERT_TRUE(other->append_and_wait(messages({"c"})).ok());
  EXPECT_EQ(sorted(take_all(*queue_)), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(queue_->forget_drained_lanes().value(), 0u);
  EXPECT_EQ(queue_->stats()->lanes, 2u);
  // Gone for good: its lane is closed, and forgotten once drained.
  EXPECT_EQ(queue_->close_lanes_of(gone).value(), 1u);
  EXPECT_EQ(queue_->forget_drained_lanes().value(), 1u);
  EXPECT_EQ(queue_->stats()->lanes, 1u);
  // Had it only slept through all that, what it appends next is registered again and found.
  ASSERT_TRUE(other->append_and_wait(messages({"d"})).ok());
  EXPECT_EQ(take_all(*queue_), std::vector<std::string>{"d"});
}

// Storage shared with another node that accepts one of the ids a group just read as new, before
// the group commits, the first `races` times: as when clients send the same events to several
// nodes at once.
class RacedBackend final : public storage::Backend {
 public:
  RacedBackend(storage::Backend& inner, int races) : inner_(inner), races_(races) {}
  Result<std::uint64_t> apply(const storage::Mutation& mutation) override {
    return inner_.apply(mutation);
  }
  std::uint64_t applied() override { return inner_.applied(); }
  Status wait_durable(std::uint64_t ticket) override { return inner_.wait_durable(ticket); }
  Result<std::optional<std::string>> get(Table table, std::string_view key) override {
    return inner_.get(table, key);
  }
  Result<std::vector<std::optional<std::string>>> get_many(
      Table table, std::span<const std::string> keys) override {
    auto read = inner_.get_many(table, keys);
    if (table != Table::kIdempotency || !read.ok() || races_ == 0) return read;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if ((*read)[i]) continue;
      --races_;
      storage::Mutation elsewhere;
      elsewhere.put(Table::kIdempotency, keys[i], "another node's");
      EXPECT_TRUE(inner_.commit(elsewhere).ok());
      break;
    }
    return read;
  }
  Result<std::vector<storage::Entry>> scan(Table table,
                                           const storage::ScanOptions& options) override {
    return inner_.scan(table, options);
  }

 private:
  storage::Backend& inner_;
  int races_;
};

TEST(IntakeQueueRaceTest, AnIdAnotherNodeAcceptsMeanwhileIsAnsweredAsADuplicate) {
  ManualClock clock(1'700'000'000'000'000);
  storage::MemoryBackend disk;
  RacedBackend raced(disk, 2);
  auto queue = IntakeQueue::open(raced, clock, "alerts", {.sole_writer = false}).value();
  auto outcome = queue->append_and_wait({{"a", "x"}, {"b", "x"}, {"c", "x"}});
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  // "a", then "b", were taken by the other node between the read and the commit.
  EXPECT_EQ(outcome->duplicate, (std::vector<bool>{true, true, false}));
  EXPECT_EQ(queue->id_conflicts(), 2u);
  const auto leased = queue->lease(10).value();
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0].id, "c");
}

TEST(IntakeQueueRaceTest, AGroupThatKeepsLosingRacesIsRefusedAsUnavailableNotAsTaken) {
  ManualClock clock(1'700'000'000'000'000);
  storage::MemoryBackend disk;
  RacedBackend raced(disk, 1000);
  auto queue = IntakeQueue::open(raced, clock, "alerts", {.sole_writer = false}).value();
  std::vector<NewMessage> many;
  for (int i = 0; i < 20; ++i) many.push_back({"id" + std::to_string(i), "x"});
  auto outcome = queue->append_and_wait(many);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kUnavailable) << outcome.status().to_string();
  EXPECT_TRUE(queue->lease(10).value().empty());
}

TEST(IntakeQueueLanesTest, ASoleWriterClosesTheLanesOfEarlierRuns) {
  ManualClock clock(1'700'000'000'000'000);
  storage::MemoryBackend disk;
  {
    testing::FaultInjectingBackend dying(disk);
    auto crashed = IntakeQueue::open(dying, clock, "alerts", {.sole_writer = false}).value();
    ASSERT_TRUE(crashed->append_and_wait({{"a", "x"}}).ok());
    dying.crash_after_commit(dying.commits());  // it dies now: its lane is never closed
  }
  clock.advance(1'000'000);
  {
    // A node that shares storage cannot know whether that lane's writer lives.
    auto sharing = IntakeQueue::open(disk, clock, "alerts", {.sole_writer = false}).value();
    auto leased = sharing->lease(10).value();
    ASSERT_EQ(leased.size(), 1u);
    storage::Mutation mutation;
    sharing->take(mutation, leased[0]);
    ASSERT_TRUE(disk.commit(mutation).ok());
    EXPECT_EQ(sharing->forget_drained_lanes().value(), 0u);
  }
  clock.advance(1'000'000);
  auto sole = IntakeQueue::open(disk, clock, "alerts").value();
  EXPECT_EQ(sole->forget_drained_lanes().value(), 1u);
  EXPECT_TRUE(sole->lease(10).value().empty());
}

}  // namespace
}  // namespace sluice::queue
