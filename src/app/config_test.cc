#include "app/config.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/temp_directory.h"

namespace sluice::app {
namespace {

using Environment = std::map<std::string, std::string>;

settings::Sources sources(Environment environment = {},
                          std::vector<std::pair<std::string, std::string>> overrides = {},
                          std::optional<std::string> file = {}) {
  settings::Sources result;
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
  EXPECT_EQ(config->http.host, "127.0.0.1");
  EXPECT_EQ(config->http.port, 7070);
  EXPECT_EQ(config->storage.url.to_string(), "rocksdb:./data");
  EXPECT_EQ(config->queue.name, "alerts");
  EXPECT_EQ(config->queue.deadletter, "alerts-deadletter");
  EXPECT_GE(config->http.threads, 1u);
}

TEST(ConfigTest, FlagsOverrideEnvironmentOverrideFile) {
  testing::TempDirectory directory;
  const std::string file = directory.str() + "/sluice.toml";
  std::ofstream(file) << "listen = \"127.0.0.1:9000\"\n[queue]\nname = \"from-file\"\n"
                         "deadletter = \"dead-file\"\n[http]\nmax_batch_events = 50\n";
  auto config =
      load_config(sources({{"SLUICE_QUEUE_NAME", "from-env"}, {"SLUICE_LISTEN", "[::1]:9001"}},
                          {{"listen", "127.0.0.2:9002"}}, file));
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  EXPECT_EQ(config->queue.name, "from-env");
  EXPECT_EQ(config->queue.deadletter, "dead-file");
  EXPECT_EQ(config->http.max_batch_events, 50u);
  EXPECT_EQ(config->http.host, "127.0.0.2");
  EXPECT_EQ(config->http.port, 9002);
}

TEST(ConfigTest, EveryBadValueNamesItsKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"listen", "nowhere"},
      {"listen", "127.0.0.1:70000"},
      {"storage", "ftp://x"},
      {"storage", "rocksdb:"},
      {"storage", "postgresql://h/db?nosuch=1"},
      {"storage", "host=h nosuchoption=1"},
      {"queue.name", "Bad Name"},
      {"http.max_body_bytes", "12"},
      {"http.max_body_bytes", "lots"},
      {"http.threads", "-1"},
      {"log.level", "loud"},
      {"no.such.key", "1"},
  };
  for (const auto& [key, value] : bad) {
    auto config = load_config(sources({}, {{key, value}}));
    ASSERT_FALSE(config.ok()) << key << "=" << value;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(config.status().message().starts_with(key + ":")) << config.status().message();
  }
}

TEST(ConfigTest, PostgresConnectionStringsAreCheckedAndShownWithoutTheirPassword) {
  for (const std::string value : {"postgresql://ann:hunter2@db.example:5433/sluice",
                                  "host=db.example port=5433 user=ann password=hunter2 "
                                  "dbname=sluice"}) {
    auto config = load_config(sources({}, {{"storage", value}}));
    ASSERT_TRUE(config.ok()) << config.status().to_string();
    EXPECT_EQ(config->storage.url.scheme, "postgresql");
    EXPECT_EQ(config->storage.url.location, value);  // handed to libpq as given
    const std::string shown = config->storage.url.to_string();
    EXPECT_NE(shown.find("host=db.example"), std::string::npos) << shown;
    EXPECT_NE(shown.find("port=5433"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("hunter2"), std::string::npos) << shown;
  }
  // libpq's own complaint could quote the password: it is left out.
  auto bad = load_config(sources({}, {{"storage", "postgresql://ann:hunter2@h:5432/db?x=%zz"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().message().starts_with("storage:")) << bad.status().message();
  EXPECT_EQ(bad.status().message().find("hunter2"), std::string::npos) << bad.status().message();
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
  EXPECT_EQ(settings::environment_name("http.max_body_bytes"), "SLUICE_HTTP_MAX_BODY_BYTES");
}

TEST(ConfigTest, WebhooksAreNamedTablesWithSecretsFromTheEnvironment) {
  testing::TempDirectory directory;
  const std::string file = directory.str() + "/sluice.toml";
  std::ofstream(file) << "[webhooks.overlay]\nurl = \"https://overlay.example/hook\"\n"
                         "events = [\"donation\", \"cheer\"]\ntimeout_ms = 2500\n"
                         "[webhooks.log]\nurl = \"http://127.0.0.1:9000/\"\n";
  auto config = load_config(sources(
      {{"SLUICE_WEBHOOKS_OVERLAY_SECRET", "from-env"}, {"SLUICE_WEBHOOKS_EXTRA_SECRET", "late"}},
      {{"webhooks.extra.url", "http://10.0.0.1/x"}}, file));
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  ASSERT_EQ(config->pipeline.webhooks.size(), 3u);
  // The file's tables come in name order, then what the command line adds.
  const pipeline::WebhookConfig& overlay = config->pipeline.webhooks[1];
  EXPECT_EQ(overlay.name, "overlay");
  EXPECT_EQ(overlay.url, "https://overlay.example/hook");
  EXPECT_EQ(overlay.secret, "from-env");
  EXPECT_EQ(overlay.event_types, (std::vector<std::string>{"donation", "cheer"}));
  EXPECT_EQ(overlay.timeout_ms, 2500u);
  EXPECT_EQ(config->pipeline.webhooks[0].name, "log");
  EXPECT_TRUE(config->pipeline.webhooks[0].event_types.empty());
  EXPECT_EQ(config->pipeline.webhooks[0].timeout_ms, 5000u);
  EXPECT_EQ(config->pipeline.webhooks[2].secret, "late");  // declared on the command line
}

TEST(ConfigTest, ApiKeysComeFromTablesWithSecretsFromTheEnvironment) {
  testing::TempDirectory directory;
  const std::string file = directory.str() + "/sluice.toml";
  std::ofstream(file) << "[keys.overlay]\nscopes = [\"read\"]\n";
  auto config = load_config(sources(
      {{"SLUICE_KEYS_OVERLAY_SECRET", "0123456789abcdef"}},
      {{"keys.ops.secret", "fedcba9876543210"}, {"keys.ops.scopes", "admin, ingest"}}, file));
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  ASSERT_EQ(config->http.api_keys.size(), 2u);
  EXPECT_EQ(config->http.api_keys[0].name, "overlay");
  EXPECT_EQ(config->http.api_keys[0].secret, "0123456789abcdef");
  EXPECT_EQ(config->http.api_keys[0].scopes, std::vector<std::string>{"read"});
  EXPECT_EQ(config->http.api_keys[1].scopes, (std::vector<std::string>{"admin", "ingest"}));

  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"keys.a.secret", "too-short"},
                                                        {"keys.a.secret", "has a space in it!!"},
                                                        {"keys.a.scopes", "read,write"},
                                                        {"keys.a.token", "x"}}) {
    auto bad = load_config(sources({}, {{key, value}}));
    ASSERT_FALSE(bad.ok()) << key << "=" << value;
    EXPECT_TRUE(bad.status().message().starts_with(key)) << bad.status().message();
  }
  auto no_scopes = load_config(sources({}, {{"keys.a.secret", "0123456789abcdef"}}));
  ASSERT_FALSE(no_scopes.ok());
  EXPECT_EQ(no_scopes.status().message(), "keys.a.scopes: is required");
}

TEST(ConfigTest, BadWebhooksNameTheirKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"webhooks.a.url", "ftp://x/"}, {"webhooks.a.url", "/relative"},
      {"webhooks.a.timeout_ms", "0"}, {"webhooks.a.events", "donation,,cheer"},
      {"webhooks.a.colour", "blue"},  {"webhooks.A.url", "http://x/"},
      {"webhooks.a", "http://x/"},
  };
  for (const auto& [key, value] : bad) {
    auto config = load_config(sources({}, {{key, value}}));
    ASSERT_FALSE(config.ok()) << key << "=" << value;
    EXPECT_TRUE(config.status().message().starts_with(key)) << config.status().message();
  }
  auto missing_url = load_config(sources({}, {{"webhooks.a.secret", "x"}}));
  ASSERT_FALSE(missing_url.ok());
  EXPECT_EQ(missing_url.status().message(), "webhooks.a.url: is required");
}

TEST(ConfigTest, ModulesCheckWhatSpansKeysOnceEverythingIsLoaded) {
  // Reachable from other machines without a key: refused, naming listen.
  auto open = load_config(sources({}, {{"listen", "0.0.0.0:7070"}}));
  ASSERT_FALSE(open.ok());
  EXPECT_TRUE(open.status().message().starts_with("listen: 0.0.0.0")) << open.status().message();
  auto keyed = load_config(sources({{"SLUICE_KEYS_OPS_SECRET", "0123456789abcdef"}},
                                   {{"listen", "0.0.0.0:7070"}, {"keys.ops.scopes", "read"}}));
  EXPECT_TRUE(keyed.ok()) << keyed.status().to_string();
  // An unknown event type in a webhook filter is the pipeline's to refuse.
  auto typo = load_config(
      sources({}, {{"webhooks.a.url", "http://x/"}, {"webhooks.a.events", "donation,folower"}}));
  ASSERT_FALSE(typo.ok());
  EXPECT_TRUE(typo.status().message().starts_with("webhooks.a.events: \"folower\""))
      << typo.status().message();
  // A TOML float is a number like any other.
  testing::TempDirectory directory;
  const std::string file = directory.str() + "/sluice.toml";
  std::ofstream(file) << "[pipeline.retry]\nbackoff_coefficient = 1.5\n";
  auto loaded = load_config(sources({}, {}, file));
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->pipeline.retry_backoff_coefficient, 1.5);
  // ...but not a whole number where an integer is declared.
  std::ofstream(file) << "[http]\nthreads = 4.0\n";
  auto fraction = load_config(sources({}, {}, file));
  ASSERT_FALSE(fraction.ok());
  EXPECT_TRUE(fraction.status().message().starts_with("http.threads: "))
      << fraction.status().message();
}

TEST(ConfigTest, AWebhookUrlIsNotRepeatedInItsError) {
  // Webhook URLs often carry a token in their path or query.
  auto config = load_config(sources({}, {{"webhooks.a.url", "ftp://hooks/T0KEN"}}));
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(config.status().message().starts_with("webhooks.a.url: "))
      << config.status().message();
  EXPECT_EQ(config.status().message().find("T0KEN"), std::string::npos)
      << config.status().message();
}

TEST(ConfigTest, ASecretNeverAppearsInAnError) {
  // The value is wrong (it has a space) and long enough to be recognised if it were echoed.
  const std::string secret = "correct horse battery staple";
  for (const std::string key : {"keys.ops.secret", "webhooks.ops.secret"}) {
    const std::string value = key.starts_with("keys") ? secret : std::string(5000, 'x') + secret;
    auto config = load_config(sources({}, {{key, value}}));
    ASSERT_FALSE(config.ok()) << key;
    EXPECT_TRUE(config.status().message().starts_with(key)) << config.status().message();
    EXPECT_EQ(config.status().message().find("horse"), std::string::npos)
        << config.status().message();
  }
  for (const auto& description : describe_settings()) {
    if (description.secret) {
      EXPECT_TRUE(description.default_value.empty()) << description.key;
    }
  }
}

// The README's table under "## Configuration", row by row: `key` | default | help.
std::vector<std::string> readme_rows() {
  std::ifstream readme(SLUICE_README);
  std::vector<std::string> rows;
  bool in_section = false;
  for (std::string line; std::getline(readme, line);) {
    if (line.starts_with("## ")) in_section = line == "## Configuration";
    if (in_section && line.starts_with("| `")) rows.push_back(line);
  }
  return rows;
}

TEST(ConfigTest, TheReadmeTableListsEverySettingAsDeclared) {
  std::vector<std::string> declared;
  for (const auto& description : describe_settings()) {
    const std::string& shown = description.default_value;
    declared.push_back(fmt::format("| `{}` | {}{}| {} |", description.key, shown,
                                   shown.empty() ? "" : " ", description.help));
  }
  const std::vector<std::string> documented = readme_rows();
  std::ostringstream expected;
  for (const auto& row : declared) expected << row << "\n";
  EXPECT_EQ(documented, declared) << "the README's settings table should read:\n" << expected.str();
}

TEST(ConfigTest, HelpNamesEveryKeyAndItsVariable) {
  const std::string help = settings::help_text(describe_settings());
  for (const auto& description : describe_settings()) {
    EXPECT_NE(help.find(description.key), std::string::npos) << description.key;
    EXPECT_NE(help.find(settings::environment_name(description.key)), std::string::npos);
  }
  EXPECT_NE(help.find("http.max_body_bytes = 8388608"), std::string::npos) << help;
}

}  // namespace
}  // namespace sluice::app
