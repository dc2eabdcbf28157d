#include "storage/document_patch.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>

namespace sluice::storage {
namespace {

namespace json = boost::json;

json::value apply(std::string_view document, const std::vector<DocumentPatch>& patches) {
  std::vector<std::string> encoded;
  for (const auto& patch : patches) encoded.push_back(patch.encode());
  std::vector<std::string_view> views(encoded.begin(), encoded.end());
  auto result = apply_patches(document, views);
  EXPECT_TRUE(result.ok()) << result.status().to_string();
  return result.ok() ? json::parse(*result) : json::value();
}

TEST(DocumentPatchTest, IncrementsCreateMissingMembers) {
  DocumentPatch patch;
  patch.increment({"followers"}, 1).increment({"donations", "totals", "USD"}, 500);
  EXPECT_EQ(apply("", {patch, patch}),
            json::parse(R"({"followers":2,"donations":{"totals":{"USD":1000}}})"));
}

TEST(DocumentPatchTest, IncrementsCommute) {
  DocumentPatch a, b;
  a.increment({"n"}, 3).maximum({"last"}, "2026-01-02T00:00:00.000Z");
  b.increment({"n"}, -1).maximum({"last"}, "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(apply(R"({"n":10})", {a, b}), apply(R"({"n":10})", {b, a}));
  EXPECT_EQ(apply(R"({"n":10})", {a, b}).at("last").as_string(), "2026-01-02T00:00:00.000Z");
}

// Found by fuzz_document_patch: the sum overflowed (undefined behaviour) inside the merge operator.
TEST(DocumentPatchTest, ASumBeyondInt64StaysAtTheLimitAndTheDocumentStaysReadable) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  DocumentPatch up, down;
  up.increment({"n"}, kMax);
  down.increment({"n"}, kMin);
  EXPECT_EQ(apply(R"({"n":1})", {up}).at("n").as_int64(), kMax);
  EXPECT_EQ(apply(R"({"n":-2})", {down}).at("n").as_int64(), kMin);
  EXPECT_EQ(apply(R"({"n":-1})", {up}).at("n").as_int64(), kMax - 1);
}

TEST(DocumentPatchTest, AppendedPatchesApplyAsBothInOrder) {
  DocumentPatch first, second, empty;
  first.increment({"n"}, 2).assign({"by"}, "first");
  second.increment({"n"}, 5).assign({"by"}, "second");
  std::string folded = empty.encode();
  for (const auto* patch : {&first, &empty, &second, &empty}) {
    ASSERT_TRUE(append_encoded_patch(folded, patch->encode()));
  }
  auto applied = apply_patches(R"({"n":1})", {folded});
  ASSERT_TRUE(applied.ok()) << applied.status().to_string();
  EXPECT_EQ(json::parse(*applied), apply(R"({"n":1})", {first, second}));
  EXPECT_EQ(json::parse(*applied), json::parse(R"({"n":8,"by":"second"})"));
  // Text that is not a patch's outer array is refused and leaves the target as it was.
  EXPECT_FALSE(append_encoded_patch(folded, "{}"));
  std::string broken = "[";
  EXPECT_FALSE(append_encoded_patch(broken, first.encode()));
  EXPECT_EQ(broken, "[");
  EXPECT_EQ(json::parse(*apply_patches("", {folded})), json::parse(R"({"n":7,"by":"second"})"));
}

TEST(DocumentPatchTest, AssignKeepsOtherMembers) {
  DocumentPatch patch;
  patch.assign({"updated_at"}, "x");
  EXPECT_EQ(apply(R"({"keep":true})", {patch}), json::parse(R"({"keep":true,"updated_at":"x"})"));
}

TEST(DocumentPatchTest, RoundTripsThroughEncoding) {
  DocumentPatch patch;
  patch.increment({"a", "b"}, 7).assign({"c"}, json::array{1, 2});
  auto decoded = DocumentPatch::decode(patch.encode());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->encode(), patch.encode());
}

TEST(DocumentPatchTest, EncodesTheStoredFormatWithMembersEscaped) {
  // Patches already in storage were written in this form; merges must keep reading them.
  DocumentPatch patch;
  patch.increment({"totals", "a\"b"}, 5).maximum({"at"}, "line\nbreak").assign({"n"}, nullptr);
  EXPECT_EQ(patch.encode(),
            R"([["inc",["totals","a\"b"],5],["max",["at"],"line\nbreak"],["set",["n"],null]])");
  EXPECT_EQ(DocumentPatch().encode(), "[]");
  EXPECT_EQ(apply("", {patch}),
            json::parse(R"({"totals":{"a\"b":5},"at":"line\nbreak","n":null})"));
}

TEST(DocumentPatchTest, RefusesConflictsAndGarbage) {
  DocumentPatch patch;
  patch.increment({"name", "x"}, 1);
  const std::string encoded = patch.encode();
  EXPECT_FALSE(apply_patches(R"({"name":"text"})", {encoded}).ok());
  DocumentPatch increment_string;
  increment_string.increment({"name"}, 1);
  const std::string encoded_string = increment_string.encode();
  EXPECT_FALSE(apply_patches(R"({"name":"text"})", {encoded_string}).ok());
  EXPECT_FALSE(DocumentPatch::decode("not json").ok());
  EXPECT_FALSE(DocumentPatch::decode(R"([["inc",["a"],"x"]])").ok());
  EXPECT_FALSE(DocumentPatch::decode(R"([["drop",["a"],1]])").ok());
  EXPECT_FALSE(DocumentPatch::decode(R"([["inc",[],1]])").ok());
  // Found by fuzz_document_patch: 1e999 parses as infinity, which Boost.JSON writes as
  // `Infinity`, not JSON.
  EXPECT_FALSE(DocumentPatch::decode(R"([["set",["a"],{"b":[1e999]}]])").ok());
  EXPECT_FALSE(apply_patches("[1]", {}).ok());
}

}  // namespace
}  // namespace sluice::storage
