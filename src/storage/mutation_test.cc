#include "storage/mutation.h"

#include <gtest/gtest.h>

namespace sluice::storage {
namespace {

TEST(MutationTest, AddsToOneCounterBecomeOneOperation) {
  Mutation mutation;
  mutation.add("depth", 5);
  mutation.put(Table::kQueue, "m1", "body");
  mutation.add("depth", -2);
  mutation.add("other", 1);
  Mutation more;
  more.add("depth", -1);
  more.add("other", 4);
  mutation.absorb(std::move(more));
  ASSERT_EQ(mutation.operations().size(), 3u);
  EXPECT_EQ(mutation.operations()[0].key, "depth");
  EXPECT_EQ(decode_counter(mutation.operations()[0].value), 2);
  EXPECT_EQ(mutation.operations()[1].key, "m1");
  EXPECT_EQ(decode_counter(mutation.operations()[2].value), 5);
}

TEST(MutationTest, APutOrEraseOfACounterKeepsTheAddsAroundItApart) {
  Mutation mutation;
  mutation.add("depth", 5);
  mutation.put(Table::kCounters, "depth", encode_counter(100));
  mutation.add("depth", 1);
  mutation.add("depth", 1);
  mutation.erase(Table::kCounters, "depth");
  mutation.add("depth", 3);
  ASSERT_EQ(mutation.operations().size(), 5u);
  EXPECT_EQ(decode_counter(mutation.operations()[0].value), 5);
  EXPECT_EQ(decode_counter(mutation.operations()[2].value), 2);
  EXPECT_EQ(decode_counter(mutation.operations()[4].value), 3);
  // The same in another mutation absorbed: the erase there separates as well.
  Mutation first;
  first.add("depth", 1);
  Mutation second;
  second.erase(Table::kCounters, "depth");
  second.add("depth", 7);
  first.absorb(std::move(second));
  ASSERT_EQ(first.operations().size(), 3u);
  EXPECT_EQ(decode_counter(first.operations()[2].value), 7);
}

}  // namespace
}  // namespace sluice::storage
