#include "storage/mutation.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "storage/document_patch.h"

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

TEST(MutationTest, PatchesToOneDocumentBecomeOnePatch) {
  DocumentPatch one, two, three;
  one.increment({"events"}, 1).assign({"last"}, "a");
  two.increment({"events"}, 1).assign({"last"}, "b");
  three.increment({"events"}, 1);
  Mutation mutation;
  mutation.patch("stats/s1", one);
  mutation.put(Table::kDocuments, "events/e1", "{}");
  mutation.patch("stats/s2", three);
  Mutation more;
  more.patch("stats/s1", two);
  mutation.absorb(std::move(more));
  ASSERT_EQ(mutation.operations().size(), 3u);
  EXPECT_EQ(mutation.operations()[0].key, "stats/s1");
  auto applied = apply_patches("", {mutation.operations()[0].value});
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(boost::json::parse(*applied), boost::json::parse(R"({"events":2,"last":"b"})"));
  EXPECT_EQ(mutation.byte_size(), std::string_view("stats/s1").size() +
                                      mutation.operations()[0].value.size() +
                                      std::string_view("events/e1{}").size() +
                                      std::string_view("stats/s2").size() + three.encode().size());
}

TEST(MutationTest, APutOrEraseOfADocumentKeepsThePatchesAroundItApart) {
  DocumentPatch patch;
  patch.increment({"n"}, 1);
  Mutation mutation;
  mutation.patch("doc", patch);
  mutation.put(Table::kDocuments, "doc", R"({"n":10})");
  mutation.patch("doc", patch);
  mutation.patch("doc", patch);
  mutation.erase(Table::kDocuments, "doc");
  mutation.patch("doc", patch);
  mutation.put(Table::kMeta, "doc", "another table: no effect on the document");
  mutation.patch("doc", patch);
  ASSERT_EQ(mutation.operations().size(), 6u);
  EXPECT_EQ(mutation.operations()[2].value, R"([["inc",["n"],1],["inc",["n"],1]])");
  EXPECT_EQ(mutation.operations()[4].value, R"([["inc",["n"],1],["inc",["n"],1]])");
}

TEST(MutationTest, AnAbsorbedMutationsFenceHoldsUnlessTheAbsorberHasOne) {
  Mutation effects;
  effects.put(Table::kMeta, "a", "1");
  effects.fence_by(3);
  Mutation unfenced;
  unfenced.absorb(std::move(effects));
  EXPECT_EQ(unfenced.fence(), 3u);

  Mutation more;
  more.fence_by(5);
  Mutation fenced;
  fenced.fence_by(1);
  fenced.absorb(std::move(more));
  EXPECT_EQ(fenced.fence(), 1u);
}

}  // namespace
}  // namespace sluice::storage
