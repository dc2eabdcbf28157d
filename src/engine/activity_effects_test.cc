#include "engine/activity_effects.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "docs/document_container.h"
#include "storage/memory/memory_backend.h"

namespace sluice::engine {
namespace {

std::optional<std::string> read(storage::Backend& backend, std::string_view container,
                                std::string_view partition, std::string_view id) {
  return backend
      .get(storage::Table::kDocuments, docs::document_key(container, partition, id).value())
      .value();
}

TEST(ActivityEffectsTest, WritesLandInTheirContainerWhenTheMutationCommits) {
  storage::MemoryBackend backend;
  ActivityEffects effects;
  Effects& public_effects = effects;
  ASSERT_TRUE(public_effects.upsert("log", "s1", "e1", R"({"user":"ann"})").ok());
  ASSERT_TRUE(public_effects.increment("totals", "s1", "s1", "events", 2).ok());
  ASSERT_TRUE(public_effects.increment("totals", "s1", "s1", "events", 3).ok());
  EXPECT_FALSE(read(backend, "log", "s1", "e1").has_value()) << "written before the commit";
  ASSERT_TRUE(backend.commit(mutation_of(public_effects)).ok());
  EXPECT_EQ(read(backend, "log", "s1", "e1"), R"({"user":"ann"})");
  EXPECT_EQ(boost::json::parse(*read(backend, "totals", "s1", "s1")),
            boost::json::parse(R"({"events":5,"id":"s1"})"));

  ActivityEffects more;
  ASSERT_TRUE(more.erase("log", "s1", "e1").ok());
  ASSERT_TRUE(backend.commit(more.mutation()).ok());
  EXPECT_FALSE(read(backend, "log", "s1", "e1").has_value());
}

TEST(ActivityEffectsTest, RefusesWhatCannotBeStoredNamingThePart) {
  ActivityEffects effects;
  auto message = [](const Status& status) { return status.message(); };
  EXPECT_NE(message(effects.upsert("log", "s1", "e1", "[1]")).find("json"), std::string::npos);
  EXPECT_NE(message(effects.upsert("log", "s1", "e1", "{")).find("json"), std::string::npos);
  EXPECT_NE(message(effects.upsert("", "s1", "e1", "{}")).find("container"), std::string::npos);
  EXPECT_NE(message(effects.erase("log", std::string_view("a\0b", 3), "e1")).find("partition"),
            std::string::npos);
  EXPECT_NE(message(effects.increment("t", "s", std::string(256, 'x'), "n", 1)).find("id"),
            std::string::npos);
  EXPECT_NE(message(effects.increment("t", "s", "i", "", 1)).find("field"), std::string::npos);
  EXPECT_TRUE(effects.mutation().empty()) << "a refused write must leave nothing behind";
}

}  // namespace
}  // namespace sluice::engine
