// Random operations on the intake queue checked against a plain in-memory model: appends with
// duplicates (within a batch, within the queue, and of ids taken long ago) against a small depth
// bound, leases, takes that commit with the consumer's writes, takes lost to a crash before
// their commit, leases given back, and reopening at random moments. The seed is printed on
// failure.

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <set>

#include "queue/intake_queue.h"
#include "storage/rocks/rocks_backend.h"
#include "tests/support/temp_directory.h"

namespace sluice::queue {
namespace {

using storage::Table;

struct Model {
  std::set<std::string> accepted;  // every id ever queued
  std::deque<std::string> queued;  // in order, until taken
  std::set<std::string> leased;
};

// Small enough that appends meet it often, so the queue's in-memory depth is checked against the
// model all along, across takes, give-backs and reopenings.
constexpr std::int64_t kBound = 40;

TEST(IntakeQueueModelTest, RandomOperationsAgreeWithTheModel) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution(0, n - 1)(random); };

  testing::TempDirectory directory;
  ManualClock clock(1'700'000'000'000'000);
  std::unique_ptr<storage::RocksBackend> backend;
  std::unique_ptr<IntakeQueue> queue;
  auto reopen = [&] {
    queue.reset();
    backend.reset();
    clock.advance(1'000'000);  // a restart takes time: lanes order by when they opened
    backend = storage::RocksBackend::open(directory.str()).value();
    queue = IntakeQueue::open(*backend, clock, "q", {.max_depth = kBound}).value();
  };
  reopen();
  Model model;
  std::vector<Message> held;  // what the consumer has leased, as the queue gave it

  for (int step = 0; step < 2000; ++step) {
    switch (pick(8)) {
      case 0:
      case 1: {  // append a batch; ids repeat within it and across time
        std::vector<NewMessage> batch;
        std::vector<bool> expected;
        std::set<std::string> in_batch;
        for (int i = 0, n = 1 + pick(5); i < n; ++i) {
          std::string id = "m" + std::to_string(pick(300));
          expected.push_back(model.accepted.contains(id) || !in_batch.insert(id).second);
          batch.push_back({id, "body of " + id});
        }
        const auto fresh = std::count(expected.begin(), expected.end(), false);
        auto outcome = queue->append_and_wait(batch);
        if (fresh > 0 && static_cast<std::int64_t>(model.queued.size()) + fresh > kBound) {
          ASSERT_EQ(outcome.status().code(), StatusCode::kResourceExhausted) << "step " << step;
          break;  // refused whole: nothing of it is queued or remembered
        }
        ASSERT_TRUE(outcome.ok()) << outcome.status().to_string() << " at step " << step;
        ASSERT_EQ(outcome->duplicate, expected) << "step " << step;
        for (size_t i = 0; i < batch.size(); ++i) {
          if (expected[i]) continue;
          model.accepted.insert(batch[i].id);
          model.queued.push_back(batch[i].id);
        }
        break;
      }
      case 2:
      case 3: {  // lease: the oldest messages nobody holds, in order
        const size_t max = 1 + pick(4);
        auto leased = queue->lease(max).value();
        std::vector<std::string> want;
        for (const auto& id : model.queued) {
          if (want.size() == max) break;
          if (!model.leased.contains(id)) want.push_back(id);
        }
        ASSERT_EQ(leased.size(), want.size()) << "step " << step;
        for (size_t i = 0; i < leased.size(); ++i) {
          ASSERT_EQ(leased[i].id, want[i]) << "step " << step;
          ASSERT_EQ(leased[i].body, "body of " + want[i]);
          model.leased.insert(want[i]);
          held.push_back(leased[i]);
        }
        break;
      }
      case 4: {  // take one held message, committed with the consumer's write
        if (held.empty()) break;
        const size_t index = pick(static_cast<int>(held.size()));
        const Message message = held[index];
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(index));
        storage::Mutation mutation;
        queue->take(mutation, message);
        mutation.put(Table::kDocuments, "done/" + message.id, message.body);
        ASSERT_TRUE(backend->commit(mutation).ok());
        queue->settle({&message.position, 1}, true);
        model.leased.erase(message.id);
        model.queued.erase(std::find(model.queued.begin(), model.queued.end(), message.id));
        break;
      }
      case 5: {  // give a held message back
        if (held.empty()) break;
        const Message message = held.back();
        held.pop_back();
        queue->settle({&message.position, 1}, false);
        model.leased.erase(message.id);
        break;
      }
      case 6: {  // crash: a take built but never committed, leases gone
        if (pick(3) != 0) break;
        if (!held.empty()) {
          storage::Mutation lost;
          queue->take(lost, held.front());
        }
        held.clear();
        model.leased.clear();
        reopen();
        break;
      }
      default: {
        ASSERT_EQ(queue->stats()->depth, static_cast<std::int64_t>(model.queued.size()))
            << "step " << step;
      }
    }
  }
  // Everything taken left its write; everything queued is still there, in order.
  held.clear();
  reopen();
  for (const auto& id : model.accepted) {
    const bool taken =
        std::find(model.queued.begin(), model.queued.end(), id) == model.queued.end();
    ASSERT_EQ(backend->get(Table::kDocuments, "done/" + id).value().has_value(), taken) << id;
  }
  std::vector<std::string> remaining;
  for (const auto& message : queue->lease(model.queued.size() + 10).value()) {
    remaining.push_back(message.id);
  }
  ASSERT_EQ(remaining, std::vector<std::string>(model.queued.begin(), model.queued.end()));
}

}  // namespace
}  // namespace sluice::queue
