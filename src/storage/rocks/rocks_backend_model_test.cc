// Random operations on RocksBackend checked against a plain in-memory model: batches of puts,
// erases and counter adds, point reads, scans forward and backward with prefixes, cursors and
// limits, and reopening (as after a crash: what committed is all there is) at random moments.
// Mutations built but never committed must leave no trace. The seed is printed on failure.

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "storage/rocks/rocks_backend.h"
#include "tests/support/temp_directory.h"

namespace sluice::storage {
namespace {

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

TEST(RocksBackendModelTest, RandomOperationsAgreeWithTheModel) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 random(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution(0, n - 1)(random); };
  auto key = [&] {
    // Few prefixes and short suffixes, so scans, overwrites and erases meet each other.
    static const char* kPrefixes[] = {"a/", "ab/", "b/", "b/c/"};
    return std::string(kPrefixes[pick(4)]) + std::to_string(pick(40));
  };

  testing::TempDirectory directory;
  auto backend = std::move(RocksBackend::open(directory.str()).value());
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
        ASSERT_TRUE(backend->commit(mutation).ok());
        model = std::move(after);
        break;
      }
      case 3: {  // built, never committed: the process died first
        Mutation lost;
        lost.put(Table::kDocuments, key(), "lost");
        lost.add(key(), 1000);
        break;
      }
      case 4: {  // now and then, reopen, as after a crash
        if (pick(5) != 0) break;
        backend.reset();
        backend = std::move(RocksBackend::open(directory.str()).value());
        break;
      }
      case 5: {
        const std::string k = key();
        auto value = backend->get(Table::kDocuments, k).value();
        auto expected = model.rows.find(k);
        ASSERT_EQ(value.has_value(), expected != model.rows.end()) << k << " at step " << step;
        if (value) {
          ASSERT_EQ(*value, expected->second) << k;
        }
        break;
      }
      case 6: {
        const std::string k = key();
        ASSERT_EQ(backend->counter(k).value(), model.counters[k]) << k << " at step " << step;
        break;
      }
      default: {
        ScanOptions options;
        static const char* kPrefixes[] = {"", "a", "a/", "ab/", "b/", "b/c/", "c"};
        options.prefix = kPrefixes[pick(7)];
        options.limit = 1 + pick(30);
        options.reverse = pick(2) == 0;
        if (pick(2) == 0) options.after = key();
        auto got = backend->scan(Table::kDocuments, options).value();
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

}  // namespace
}  // namespace sluice::storage
