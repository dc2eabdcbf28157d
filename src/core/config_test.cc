#include "core/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

using Environment = std::map<std::string, std::string>;

ConfigSources sources(Environment environment = {},
                      std::vector<std::pair<std::string, std::string>> overrides = {},
                      std::optional<std::string> file = {}) {
  ConfigSources result;
  result.file = std::move(file);
  result.environment = [environment](const std::string& name) -> std::optional<std::string> {
    auto found = environment.find(name);
    if (found == environment.end()) return std::nullopt;
    return found->second;
  };
  result.overrides = std::move(overrides);
  return result;
}

TEST(ConfigTest, DefaultsAreTheEmbeddedSetUp) {
  auto config = load_config(sources());
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  EXPECT_EQ(config->listen_host, "127.0.0.1");
  EXPECT_EQ(config->listen_port, 7070);
  EXPECT_EQ(config->storage.to_string(), "rocksdb:./data");
  EXPECT_EQ(config->queue_name, "alerts");
  EXPECT_EQ(config->deadletter_name, "alerts-deadletter");
  EXPECT_GE(config->http_threads, 1u);
}

TEST(ConfigTest, FlagsOverrideEnvironmentOverrideFile) {
  testing::TempDirectory directory;
  const std::string file = directory.str() + "/sluice.toml";
  std::ofstream(file) << "listen = \"127.0.0.1:9000\"\n[queue]\nname = \"from-file\"\n"
                         "deadletter = \"dead-file\"\n[http]\nmax_batch_events = 50\n";
  auto config =
      load_config(sources({{"SLUICE_QUEUE_NAME", "from-env"}, {"SLUICE_LISTEN", "[::1]:9001"}},
                          {{"listen", "0.0.0.0:9002"}}, file));
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  EXPECT_EQ(config->queue_name, "from-env");
  EXPECT_EQ(config->deadletter_name, "dead-file");
  EXPECT_EQ(config->max_batch_events, 50u);
  EXPECT_EQ(config->listen_host, "0.0.0.0");
  EXPECT_EQ(config->listen_port, 9002);
}

TEST(ConfigTest, EveryBadValueNamesItsKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"listen", "nowhere"},           {"listen", "127.0.0.1:70000"},
      {"storage", "ftp://x"},          {"storage", "rocksdb:"},
      {"queue.name", "Bad Name"},      {"http.max_body_bytes", "12"},
      {"http.max_body_bytes", "lots"}, {"http.threads", "-1"},
      {"log.level", "loud"},           {"no.such.key", "1"},
  };
  for (const auto& [key, value] : bad) {
    auto config = load_config(sources({}, {{key, value}}));
    ASSERT_FALSE(config.ok()) << key << "=" << value;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(config.status().message().starts_with(key + ":")) << config.status().message();
  }
}

TEST(ConfigTest, BadEnvironmentValueNamesKeyAndVariable) {
  auto config = load_config(sources({{"SLUICE_HTTP_READ_TIMEOUT_SECONDS", "0"}}));
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(config.status().message().starts_with("http.read_timeout_seconds:"));
}

TEST(ConfigTest, FileErrorsNameTheFileOrKey) {
  testing::TempDirectory directory;
  const std::string broken = directory.str() + "/broken.toml";
  std::ofstream(broken) << "listen = \n";
  auto config = load_config(sources({}, {}, broken));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("broken.toml"), std::string::npos);

  const std::string unknown = directory.str() + "/unknown.toml";
  std::ofstream(unknown) << "[queue]\nnmae = \"typo\"\n";
  config = load_config(sources({}, {}, unknown));
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(config.status().message().starts_with("queue.nmae: unknown setting"));

  config = load_config(sources({}, {}, directory.str() + "/missing.toml"));
  ASSERT_FALSE(config.ok());
}

TEST(ConfigTest, QueueAndDeadLetterMustDiffer) {
  auto config = load_config(sources({}, {{"queue.deadletter", "alerts"}}));
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(config.status().message().starts_with("queue.deadletter:"));
}

TEST(ConfigTest, EnvironmentNames) {
  EXPECT_EQ(environment_name("http.max_body_bytes"), "SLUICE_HTTP_MAX_BODY_BYTES");
}

}  // namespace
}  // namespace sluice
