// The Backend contract, run against every backend: atomic commits read back after a restart,
// counters and patches that merge without reads, ordered prefix scans both ways, tickets, and
// random operations checked against a plain model. A new backend is proven by adding one line to
// the list at the bottom.

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include "storage/document_patch.h"
#include "storage/memory/memory_backend.h"
#include "storage/postgres/postgres_backend.h"
#include "storage/rocks/rocks_backend.h"
#include "tests/support/postgres_server.h"
#include "tests/support/temp_directory.h"

namespace sluice::storage {
namespace {

// One backend under test, and a way to bring it back as after the process died and started again
// (what was committed is all there is).
class Subject {
 public:
  virtual ~Subject() = default;
  virtual Backend& backend() = 0;
  virtual void restart() = 0;
};

class RocksSubject final : public Subject {
 public:
  RocksSubject() { restart(); }
  Backend& backend() override { return *backend_; }
  void restart() override {
    backend_.reset();  // closes the database first: one process at a time may hold it
    backend_ = RocksBackend::open(directory_.str()).value();
  }

 private:
  testing::TempDirectory directory_;
  std::unique_ptr<RocksBackend> backend_;
};

class MemorySubject final : public Subject {
 public:
  Backend& backend() override { return backend_; }
  // The memory outlives the "process"; a restart loses only what was never synced.
  void restart() override { backend_.lose_unsynced(); }

 private:
  MemoryBackend backend_;
};

// A database of its own on a private server; a restart opens it again with new connections.
class PostgresSubject final : public Subject {
 public:
  PostgresSubject() : conninfo_(server().create_database()) { restart(); }
  Backend& backend() override { return *backend_; }
  void restart() override {
    backend_.reset();
    auto opened = PostgresBackend::open(conninfo_, 4);
    if (!opened.ok()) throw std::runtime_error(opened.status().to_string());
    backend_ = std::move(*opened);
  }

 private:
  static testing::PostgresServer& server() {
    static testing::PostgresServer shared;
    return shared;
  }
  std::string conninfo_;
  std::unique_ptr<PostgresBackend> backend_;
};

struct Kind {
  std::string name;
  std::function<std::unique_ptr<Subject>()> make;
};
void PrintTo(const Kind& kind, std::ostream* out) { *out << kind.name; }

class BackendContractTest : public ::testing::TestWithParam<Kind> {
 protected:
  BackendContractTest() : subject_(GetParam().make()) {}
  Backend& backend() { return subject_->backend(); }
  void restart() { subject_->restart(); }

  std::vector<std::string> keys(Table table, const ScanOptions& options) {
    std::vector<std::string> found;
    for (auto& entry : backend().scan(table, options).value()) found.push_back(entry.key);
    return found;
  }

 private:
  std::unique_ptr<Subject> subject_;
};

TEST_P(BackendContractTest, CommitsAreReadBackAfterARestart) {
  Mutation mutation;
  mutation.put(Table::kQueue, std::string_view("q\0a", 3), "1");
  mutation.put(Table::kDocuments, "doc", R"({"x":1})");
  mutation.add("depth", 5);
  ASSERT_TRUE(backend().commit(mutation).ok());
  restart();
  EXPECT_EQ(*backend().get(Table::kQueue, std::string_view("q\0a", 3)).value(), "1");
  EXPECT_EQ(*backend().get(Table::kDocuments, "doc").value(), R"({"x":1})");
  EXPECT_FALSE(backend().get(Table::kQueue, "doc").value().has_value());  // tables are apart
  EXPECT_EQ(*backend().counter("depth"), 5);
  EXPECT_EQ(*backend().counter("never"), 0);
}

TEST_P(BackendContractTest, TicketsCountCommitsAndAnApplyIsReadableBeforeItIsDurable) {
  const std::uint64_t before = backend().applied();
  Mutation first;
  first.put(Table::kMeta, "k", "1");
  const std::uint64_t ticket = backend().apply(first).value();
  EXPECT_GT(ticket, before);
  EXPECT_GE(backend().applied(), ticket);
  EXPECT_EQ(*backend().get(Table::kMeta, "k").value(), "1");
  Mutation second;
  second.put(Table::kMeta, "k", "2");
  const std::uint64_t next = backend().apply(second).value();
  EXPECT_GT(next, ticket);
  // Waiting for the later ticket covers the earlier one too.
  ASSERT_TRUE(backend().wait_durable(next).ok());
  ASSERT_TRUE(backend().wait_durable(ticket).ok());
  restart();
  EXPECT_EQ(*backend().get(Table::kMeta, "k").value(), "2");
}

TEST_P(BackendContractTest, CountersAndPatchesMergeWithoutReads) {
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([this] {
      for (int i = 0; i < 50; ++i) {
        Mutation mutation;
        mutation.add("total", 2);
        DocumentPatch patch;
        patch.increment({"events"}, 1);
        mutation.patch("stats", patch);
        ASSERT_TRUE(backend().commit(mutation).ok());
      }
    });
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(*backend().counter("total"), 400);
  auto stats = backend().get(Table::kDocuments, "stats");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(boost::json::parse(**stats).at("events").as_int64(), 200);
}

TEST_P(BackendContractTest, CountersWrapAroundRatherThanFail) {
  Mutation up;
  up.add("c", INT64_MAX);
  up.add("d", -1);
  ASSERT_TRUE(backend().commit(up).ok());
  Mutation over;
  over.add("c", 1);
  ASSERT_TRUE(backend().commit(over).ok());
  EXPECT_EQ(*backend().counter("c"), INT64_MIN);
  EXPECT_EQ(*backend().counter("d"), -1);
}

TEST_P(BackendContractTest, PatchesStackedWithoutADocumentKeepTheirOrderThroughARestart) {
  for (int i = 1; i <= 5; ++i) {
    Mutation mutation;
    DocumentPatch patch;
    patch.increment({"n"}, i).assign({"last"}, boost::json::string(std::to_string(i)));
    mutation.patch("stats", patch);
    ASSERT_TRUE(backend().commit(mutation).ok());
  }
  // RocksDB replays its log on reopening and flushes it: the five operands, with no document
  // under them, are merged into one on the way to the table file.
  restart();
  auto stats = backend().get(Table::kDocuments, "stats");
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  EXPECT_EQ(boost::json::parse(**stats), boost::json::parse(R"({"n":15,"last":"5"})"));
}

TEST_P(BackendContractTest, APatchOverAPutDocumentChangesOnlyItsFields) {
  Mutation put;
  put.put(Table::kDocuments, "doc", R"({"n":1,"name":"ann"})");
  ASSERT_TRUE(backend().commit(put).ok());
  Mutation patched;
  DocumentPatch patch;
  patch.increment({"n"}, 2).maximum({"at"}, boost::json::string("2026-01-01T00:00:00Z"));
  patched.patch("doc", patch);
  ASSERT_TRUE(backend().commit(patched).ok());
  EXPECT_EQ(boost::json::parse(*backend().get(Table::kDocuments, "doc").value()),
            boost::json::parse(R"({"n":3,"name":"ann","at":"2026-01-01T00:00:00Z"})"));
}

TEST_P(BackendContractTest, OneCommitAppliesItsOperationsInOrderKeyByKeyTableByTable) {
  Mutation first;
  first.add("k", 5);
  first.put(Table::kDocuments, "k", R"({"n":1})");  // the same key in another table
  DocumentPatch patch;
  patch.increment({"n"}, 1);
  first.patch("k", patch);
  first.put(Table::kCounters, "set", encode_counter(10));
  first.add("set", 1);
  ASSERT_TRUE(backend().commit(first).ok());
  EXPECT_EQ(*backend().counter("k"), 5);
  EXPECT_EQ(*backend().counter("set"), 11);
  EXPECT_EQ(boost::json::parse(*backend().get(Table::kDocuments, "k").value()),
            boost::json::parse(R"({"n":2})"));

  Mutation second;
  second.add("k", 1);
  second.erase(Table::kCounters, "k");  // a set value replaces the adds before it
  second.add("k", 3);
  second.patch("k", patch);
  second.erase(Table::kDocuments, "k");
  ASSERT_TRUE(backend().commit(second).ok());
  EXPECT_EQ(*backend().counter("k"), 3);
  EXPECT_FALSE(backend().get(Table::kDocuments, "k").value().has_value());
}

TEST_P(BackendContractTest, AnInsertOfAKeyThatHoldsAValueFailsTheWholeCommit) {
  Mutation held;
  held.put(Table::kIdempotency, "held", "1");
  ASSERT_TRUE(backend().commit(held).ok());

  Mutation refused;
  refused.insert(Table::kIdempotency, "fresh", "2");
  refused.put(Table::kMeta, "beside", "2");
  refused.add("count", 1);
  refused.insert(Table::kIdempotency, "held", "2");
  EXPECT_EQ(backend().commit(refused).code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(backend().get(Table::kIdempotency, "fresh").value().has_value());
  EXPECT_FALSE(backend().get(Table::kMeta, "beside").value().has_value());
  EXPECT_EQ(*backend().counter("count"), 0);
  EXPECT_EQ(*backend().get(Table::kIdempotency, "held").value(), "1");

  Mutation twice;  // a key this mutation set holds a value too
  twice.insert(Table::kIdempotency, "twice", "1");
  twice.insert(Table::kIdempotency, "twice", "2");
  EXPECT_EQ(backend().commit(twice).code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(backend().get(Table::kIdempotency, "twice").value().has_value());

  Mutation in_order;  // the operations on one key apply in order, the insert's check among them
  in_order.erase(Table::kIdempotency, "held");
  in_order.insert(Table::kIdempotency, "held", "3");
  in_order.insert(Table::kIdempotency, "fresh", "4");
  in_order.put(Table::kIdempotency, "fresh", "5");
  in_order.insert(Table::kMeta, "fresh", "6");  // the same key in another table
  ASSERT_TRUE(backend().commit(in_order).ok());
  restart();
  EXPECT_EQ(*backend().get(Table::kIdempotency, "held").value(), "3");
  EXPECT_EQ(*backend().get(Table::kIdempotency, "fresh").value(), "5");
  EXPECT_EQ(*backend().get(Table::kMeta, "fresh").value(), "6");
}

TEST_P(BackendContractTest, OfCommitsRacingToInsertOneKeyExactlyOneWins) {
  constexpr int kKeys = 100;
  constexpr int kRacers = 4;
  std::array<std::atomic<int>, kKeys> wins{};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> racers;
  for (int t = 0; t < kRacers; ++t) {
    racers.emplace_back([&, t] {
      for (int k = 0; k < kKeys; ++k) {
        Mutation mutation;
        mutation.insert(Table::kIdempotency, "key" + std::to_string(k), std::to_string(t));
        mutation.add("inserted", 1);
        const Status status = backend().commit(mutation);
        if (status.ok()) {
          ++wins[k];
        } else if (status.code() != StatusCode::kAlreadyExists) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& racer : racers) racer.join();
  EXPECT_EQ(unexpected.load(), 0);
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(wins[k].load(), 1) << "key" << k;
  EXPECT_EQ(*backend().counter("inserted"), kKeys);
}

TEST_P(BackendContractTest, AnExpectationThatDoesNotHoldFailsTheWholeCommit) {
  Mutation first;
  first.put(Table::kMeta, "k", "1");
  ASSERT_TRUE(backend().commit(first).ok());

  Mutation holds;
  holds.expect(Table::kMeta, "k", "1");
  holds.put(Table::kMeta, "k", "2");
  holds.put(Table::kQueue, "beside", "2");
  ASSERT_TRUE(backend().commit(holds).ok());

  for (const auto& [key, value] : {std::pair<std::string, std::string>{"k", "1"},  // changed
                                   {"k", ""},                                      // not empty
                                   {"never", ""}}) {                               // absent
    Mutation stale;
    stale.put(Table::kQueue, "beside", "3");
    stale.expect(Table::kMeta, key, value);
    EXPECT_EQ(backend().commit(stale).code(), StatusCode::kFailedPrecondition) << key;
  }
  EXPECT_EQ(*backend().get(Table::kQueue, "beside").value(), "2");
  EXPECT_EQ(*backend().get(Table::kMeta, "k").value(), "2");

  Mutation in_order;  // what the mutation set before it is what an expectation sees
  in_order.put(Table::kMeta, "k", "3");
  in_order.expect(Table::kMeta, "k", "3");
  in_order.insert(Table::kMeta, "new", "4");
  in_order.expect(Table::kMeta, "new", "4");
  ASSERT_TRUE(backend().commit(in_order).ok());
  Mutation erased;
  erased.erase(Table::kMeta, "k");
  erased.expect(Table::kMeta, "k", "3");
  EXPECT_EQ(backend().commit(erased).code(), StatusCode::kFailedPrecondition);
  restart();
  EXPECT_EQ(*backend().get(Table::kMeta, "k").value(), "3");
  EXPECT_EQ(*backend().get(Table::kMeta, "new").value(), "4");
}

TEST_P(BackendContractTest, CompareAndSetByExpectationLosesNoUpdate) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 50;
  std::atomic<int> unexpected{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&] {
      for (int done = 0; done < kIncrements;) {
        auto read = backend().get(Table::kMeta, "n");
        if (!read.ok()) {
          ++unexpected;
          return;
        }
        const std::string seen = read->value_or("0");
        Mutation swap;
        if (read->has_value()) {
          swap.expect(Table::kMeta, "n", seen);
          swap.put(Table::kMeta, "n", std::to_string(std::stoi(seen) + 1));
        } else {
          swap.insert(Table::kMeta, "n", "1");
        }
        const Status status = backend().commit(swap);
        if (status.ok()) {
          ++done;
        } else if (status.code() != StatusCode::kFailedPrecondition &&
                   status.code() != StatusCode::kAlreadyExists) {
          ++unexpected;
          return;
        }
      }
    });
  }
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(*backend().get(Table::kMeta, "n").value(), std::to_string(kThreads * kIncrements));
}

TEST_P(BackendContractTest, ErasesAndScansInOrderBothWays) {
  Mutation mutation;
  for (const char* key : {"a/1", "a/2", "a/3", "a/4", "b/1"}) mutation.put(Table::kQueue, key, key);
  mutation.erase(Table::kQueue, "a/3");
  mutation.erase(Table::kQueue, "never/there");  // no error when absent
  ASSERT_TRUE(backend().commit(mutation).ok());

  using Keys = std::vector<std::string>;
  EXPECT_EQ(keys(Table::kQueue, {.prefix = "a/"}), (Keys{"a/1", "a/2", "a/4"}));
  EXPECT_EQ(keys(Table::kQueue, {.prefix = "a/", .after = "a/1", .limit = 1}), (Keys{"a/2"}));
  EXPECT_EQ(keys(Table::kQueue, {.prefix = "a/", .reverse = true}), (Keys{"a/4", "a/2", "a/1"}));
  EXPECT_EQ(keys(Table::kQueue, {.prefix = "a/", .after = "a/4", .reverse = true}),
            (Keys{"a/2", "a/1"}));
  EXPECT_EQ(keys(Table::kQueue, {.prefix = "a/", .after = "a/0", .reverse = true}), Keys{});
  EXPECT_EQ(keys(Table::kQueue, {.prefix = "a/", .after = "z", .reverse = true}),
            (Keys{"a/4", "a/2", "a/1"}));
  EXPECT_EQ(keys(Table::kQueue, {.prefix = "b/"}), (Keys{"b/1"}));
  EXPECT_EQ(keys(Table::kQueue, {.prefix = "c/"}), Keys{});
  EXPECT_EQ(keys(Table::kQueue, {.prefix = "", .limit = 2, .reverse = true}), (Keys{"b/1", "a/4"}));

  std::vector<std::string> wanted = {"a/1", "a/3", "b/1"};
  auto values = backend().get_many(Table::kQueue, wanted);
  ASSERT_TRUE(values.ok());
  EXPECT_EQ((*values)[0], "a/1");
  EXPECT_FALSE((*values)[1].has_value());
  EXPECT_EQ((*values)[2], "b/1");
}

TEST_P(BackendContractTest, KeysAreBytesComparedUnsigned) {
  Mutation mutation;
  const std::string high("k\xff", 2), low("k\x01", 2), zero("k\0", 2);
  for (const auto& key : {high, low, zero}) mutation.put(Table::kQueue, key, "v");
  ASSERT_TRUE(backend().commit(mutation).ok());
  EXPECT_EQ(keys(Table::kQueue, {.prefix = "k"}), (std::vector<std::string>{zero, low, high}));
  EXPECT_EQ(keys(Table::kQueue, {.prefix = high}), (std::vector<std::string>{high}));
}

// Random operations checked against a plain in-memory model: batches of puts, erases and counter
// adds, point reads, scans forward and backward with prefixes, cursors and limits, and restarts
// at random moments. Mutations built but never committed must leave no trace. The seed is
// printed, and SLUICE_SEED replays one.
struct Model {
  std::map<std::string, std::string> rows;  // one table is enough to check ordering
  std::map<std::string, std::int64_t> counters;
};

std::vector<Entry> model_scan(const Model& model, const ScanOptions& options) {
  std::vector<Entry> out;
  auto matches = [&](const std::string& key) { return key.starts_with(options.prefix); };
  if (!options.reverse) {
    auto it = options.after ? model.rows.upper_bound(*options.after)
                            : model.rows.lower_bound(options.prefix);
    for (; it != model.rows.end() && out.size() < options.limit; ++it) {
      if (matches(it->first)) {
        out.push_back({it->first, it->second});
      } else if (it->first > options.prefix) {
        break;
      }
    }
  } else {
    for (auto it = model.rows.rbegin(); it != model.rows.rend() && out.size() < options.limit;
         ++it) {
      if (options.after && it->first >= *options.after) continue;
      if (matches(it->first)) out.push_back({it->first, it->second});
    }
  }
  return out;
}

unsigned test_seed() {
  const char* given = std::getenv("SLUICE_SEED");
  const unsigned seed = given != nullptr ? std::stoul(given) : std::random_device{}();
  std::cout << "[ seed ] SLUICE_SEED=" << seed << "\n";
  return seed;
}

TEST_P(BackendContractTest, RandomOperationsAgreeWithTheModel) {
  const unsigned seed = test_seed();
  SCOPED_TRACE("SLUICE_SEED=" + std::to_string(seed));
  std::mt19937 random(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution(0, n - 1)(random); };
  auto key = [&] {
    // Few prefixes and short suffixes, so scans, overwrites and erases meet each other.
    static const char* kPrefixes[] = {"a/", "ab/", "b/", "b/c/"};
    return std::string(kPrefixes[pick(4)]) + std::to_string(pick(40));
  };

  Model model;
  for (int step = 0; step < 3000; ++step) {
    switch (pick(10)) {
      case 0:
      case 1:
      case 2: {  // a committed batch
        Mutation mutation;
        Model after = model;
        for (int i = 0, n = 1 + pick(8); i < n; ++i) {
          const std::string k = key();
          if (pick(4) == 0) {
            mutation.erase(Table::kDocuments, k);
            after.rows.erase(k);
          } else if (pick(3) == 0) {
            const std::int64_t delta = pick(21) - 10;
            mutation.add(k, delta);
            after.counters[k] += delta;
          } else {
            const std::string value = "v" + std::to_string(step) + "-" + std::to_string(i);
            mutation.put(Table::kDocuments, k, value);
            after.rows[k] = value;
          }
        }
        ASSERT_TRUE(backend().commit(mutation).ok());
        model = std::move(after);
        break;
      }
      case 3: {  // built, never committed: the process died first
        Mutation lost;
        lost.put(Table::kDocuments, key(), "lost");
        lost.add(key(), 1000);
        break;
      }
      case 4: {  // now and then, restart, as after a crash
        if (pick(5) == 0) restart();
        break;
      }
      case 5: {
        const std::string k = key();
        auto value = backend().get(Table::kDocuments, k).value();
        auto expected = model.rows.find(k);
        ASSERT_EQ(value.has_value(), expected != model.rows.end()) << k << " at step " << step;
        if (value) {
          ASSERT_EQ(*value, expected->second) << k;
        }
        break;
      }
      case 6: {
        const std::string k = key();
        ASSERT_EQ(backend().counter(k).value(), model.counters[k]) << k << " at step " << step;
        break;
      }
      default: {
        ScanOptions options;
        static const char* kPrefixes[] = {"", "a", "a/", "ab/", "b/", "b/c/", "c"};
        options.prefix = kPrefixes[pick(7)];
        options.limit = 1 + pick(30);
        options.reverse = pick(2) == 0;
        if (pick(2) == 0) options.after = key();
        auto got = backend().scan(Table::kDocuments, options).value();
        auto want = model_scan(model, options);
        ASSERT_EQ(got.size(), want.size())
            << "scan of \"" << options.prefix << "\" at step " << step;
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(got[i].key, want[i].key) << "step " << step;
          ASSERT_EQ(got[i].value, want[i].value) << "step " << step;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Backends, BackendContractTest,
    ::testing::Values(Kind{"RocksDB", [] { return std::make_unique<RocksSubject>(); }},
                      Kind{"Memory", [] { return std::make_unique<MemorySubject>(); }},
                      Kind{"PostgreSQL", [] { return std::make_unique<PostgresSubject>(); }}),
    [](const ::testing::TestParamInfo<Kind>& param) { return param.param.name; });

}  // namespace
}  // namespace sluice::storage
