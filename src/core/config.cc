#include "core/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <boost/url/parse.hpp>
#include <charconv>
#include <cstdlib>
#include <thread>

namespace sluice {
namespace {

Status setting_error(std::string_view key, std::string_view problem) {
  return invalid_argument(fmt::format("{}: {}", key, problem));
}

template <typename Integer>
bool parse_integer(std::string_view text, Integer& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

template <typename Integer>
Status parse_bounded(std::string_view key, std::string_view text, Integer low, Integer high,
                     Integer& out) {
  if (!parse_integer(text, out) || out < low || out > high) {
    return setting_error(
        key, fmt::format("must be a whole number from {} to {}, got \"{}\"", low, high, text));
  }
  return {};
}

// A queue name becomes part of storage keys; keep it to a small, safe alphabet.
Status parse_queue_name(std::string_view key, std::string_view text, std::string& out) {
  if (text.empty() || text.size() > 63) return setting_error(key, "must be 1 to 63 characters");
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return setting_error(key, fmt::format("\"{}\" may hold only a-z, 0-9 and '-'", text));
    }
  }
  out = text;
  return {};
}

Status parse_listen(std::string_view key, std::string_view text, Config& config) {
  // host:port, with [v6]:port for IPv6.
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return setting_error(key, fmt::format("\"{}\" is not host:port", text));
  }
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) {
      return setting_error(key, fmt::format("\"{}\" is not host:port", text));
    }
    host = host.substr(1, host.size() - 2);
  }
  std::uint16_t port;
  if (!parse_integer(text.substr(colon + 1), port)) {
    return setting_error(key, fmt::format("\"{}\" has no valid port (0-65535)", text));
  }
  config.listen_host = host == "localhost" ? "127.0.0.1" : std::string(host);
  config.listen_port = port;
  return {};
}

struct Setting {
  std::string_view key;
  std::function<Status(std::string_view key, std::string_view value, Config&)> apply;
};

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
      {"listen", parse_listen},
      {"storage",
       [](std::string_view key, std::string_view value, Config& config) -> Status {
         auto url = StorageUrl::parse(value);
         if (!url.ok()) return setting_error(key, url.status().message());
         config.storage = *url;
         return {};
       }},
      {"storage.min_free_mb",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded<std::uint64_t>(key, value, 0, 1u << 30, config.storage_min_free_mb);
       }},
      {"queue.name",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_queue_name(key, value, config.queue_name);
       }},
      {"queue.deadletter",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_queue_name(key, value, config.deadletter_name);
       }},
      {"queue.max_depth",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded<std::int64_t>(key, value, 1, 1'000'000'000'000,
                                            config.queue_max_depth);
       }},
      {"http.threads",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded(key, value, 0u, 256u, config.http_threads);
       }},
      {"http.max_body_bytes",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded<std::size_t>(key, value, 1024, std::size_t{1} << 30,
                                           config.max_body_bytes);
       }},
      {"http.max_header_bytes",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded<std::size_t>(key, value, 1024, std::size_t{1} << 20,
                                           config.max_header_bytes);
       }},
      {"http.max_batch_events",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded<std::size_t>(key, value, 1, 1'000'000, config.max_batch_events);
       }},
      {"http.read_timeout_seconds",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded(key, value, 1u, 3600u, config.read_timeout_seconds);
       }},
      {"http.max_connections",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded<std::size_t>(key, value, 1, 1'000'000, config.max_connections);
       }},
      {"engine.partitions",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded(key, value, 0u, 256u, config.engine_partitions);
       }},
      {"engine.activity_workers",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded(key, value, 1u, 1024u, config.activity_workers);
       }},
      {"engine.max_active_instances",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded<std::size_t>(key, value, 1, 100'000'000, config.max_active_instances);
       }},
      {"engine.retention_hours",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded(key, value, 0u, 24u * 365 * 100, config.retention_hours);
       }},
      {"pipeline.paused",
       [](std::string_view key, std::string_view value, Config& config) -> Status {
         if (value != "true" && value != "false") {
           return setting_error(key, fmt::format("must be true or false, got \"{}\"", value));
         }
         config.pipeline_paused = value == "true";
         return {};
       }},
      {"pipeline.max_in_flight",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded<std::size_t>(key, value, 1, 10'000'000,
                                           config.pipeline_max_in_flight);
       }},
      {"pipeline.retry.max_attempts",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded(key, value, 1, 100, config.retry_max_attempts);
       }},
      {"pipeline.retry.first_interval_ms",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded(key, value, 1u, 86'400'000u, config.retry_first_interval_ms);
       }},
      {"pipeline.retry.backoff_coefficient",
       [](std::string_view key, std::string_view value, Config& config) -> Status {
         double coefficient = 0;
         const auto [end, error] =
             std::from_chars(value.data(), value.data() + value.size(), coefficient);
         if (error != std::errc() || end != value.data() + value.size() || coefficient < 1.0 ||
             coefficient > 100.0) {
           return setting_error(key,
                                fmt::format("must be a number from 1 to 100, got \"{}\"", value));
         }
         config.retry_backoff_coefficient = coefficient;
         return {};
       }},
      {"pipeline.retry.max_interval_ms",
       [](std::string_view key, std::string_view value, Config& config) {
         return parse_bounded(key, value, 1u, 86'400'000u, config.retry_max_interval_ms);
       }},
      {"log.level",
       [](std::string_view key, std::string_view value, Config& config) -> Status {
         static constexpr std::string_view kLevels[] = {"trace", "debug", "info",
                                                        "warn",  "error", "off"};
         for (auto level : kLevels) {
           if (value == level) {
             config.log_level = value;
             return {};
           }
         }
         return setting_error(
             key, fmt::format("\"{}\" is not one of trace, debug, info, warn, error, off", value));
       }},
  };
  return all;
}

// Splits "A, B ,C" into its trimmed items; false if one is empty.
bool split_list(std::string_view text, std::vector<std::string>& items) {
  items.clear();
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) return false;
    items.emplace_back(item);
    start = comma + 1;
  }
  return true;
}

// Finds the entry called `name`, adding it if there is none.
template <typename Entry>
Entry& named(std::vector<Entry>& entries, std::string_view name) {
  auto found = std::find_if(entries.begin(), entries.end(),
                            [&](const Entry& entry) { return entry.name == name; });
  if (found != entries.end()) return *found;
  entries.push_back(Entry{.name = std::string(name)});
  return entries.back();
}

Status apply_webhook(Config& config, std::string_view name, std::string_view field,
                     std::string_view key, std::string_view value) {
  WebhookConfig& webhook = named(config.webhooks, name);
  if (field == "url") {
    auto url = boost::urls::parse_absolute_uri(value);
    if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
      return setting_error(key, fmt::format("\"{}\" is not an http:// or https:// URL", value));
    }
    webhook.url = value;
  } else if (field == "secret") {
    if (value.size() > 4096) return setting_error(key, "must be at most 4096 bytes");
    webhook.secret = value;
  } else if (field == "events") {
    // Checked against the known event types by the pipeline, which owns them.
    if (!split_list(value, webhook.event_types)) {
      return setting_error(key, "must list event types, as in \"donation,cheer\"");
    }
  } else {
    return parse_bounded(key, value, 1u, 600'000u, webhook.timeout_ms);
  }
  return {};
}

Status apply_api_key(Config& config, std::string_view name, std::string_view field,
                     std::string_view key, std::string_view value) {
  ApiKeyConfig& api_key = named(config.api_keys, name);
  if (field == "secret") {
    const bool printable =
        std::all_of(value.begin(), value.end(), [](char c) { return c > ' ' && c < 127; });
    if (value.size() < 16 || value.size() > 256 || !printable) {
      return setting_error(key, "must be 16 to 256 printable ASCII characters without spaces");
    }
    api_key.secret = value;
    return {};
  }
  std::vector<std::string> scopes;
  const bool known = split_list(value, scopes) &&
                     std::all_of(scopes.begin(), scopes.end(), [](const std::string& scope) {
                       return scope == "ingest" || scope == "read" || scope == "admin";
                     });
  if (!known) return setting_error(key, "must list scopes from ingest, read, admin");
  api_key.scopes = std::move(scopes);
  return {};
}

// Families of named tables: `FAMILY.NAME.FIELD`, NAME chosen by the user.
struct NamedTable {
  std::string_view family;
  std::vector<std::string_view> fields;
  Status (*apply)(Config&, std::string_view name, std::string_view field, std::string_view key,
                  std::string_view value);
};

const std::vector<NamedTable>& named_tables() {
  static const std::vector<NamedTable> all = {
      {"webhooks", {"url", "secret", "events", "timeout_ms"}, apply_webhook},
      {"keys", {"secret", "scopes"}, apply_api_key},
  };
  return all;
}

// The named table `key` belongs to, with NAME and FIELD; nullptr for any other key.
const NamedTable* split_named_key(std::string_view key, std::string_view& name,
                                  std::string_view& field) {
  for (const auto& table : named_tables()) {
    if (!key.starts_with(table.family) || key.substr(table.family.size(), 1) != ".") continue;
    const std::string_view rest = key.substr(table.family.size() + 1);
    const size_t dot = rest.rfind('.');
    name = rest.substr(0, dot == std::string_view::npos ? rest.size() : dot);
    field = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
    return &table;
  }
  return nullptr;
}

Status apply_named(const NamedTable& table, Config& config, std::string_view name,
                   std::string_view field, std::string_view key, std::string_view value) {
  const bool valid_name =
      !name.empty() && name.size() <= 63 &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string_view::npos;
  if (!valid_name) {
    return setting_error(
        key, fmt::format("expected {}.NAME.FIELD, NAME 1 to 63 of a-z, 0-9, '_'", table.family));
  }
  if (std::find(table.fields.begin(), table.fields.end(), field) == table.fields.end()) {
    return setting_error(key, fmt::format("unknown setting; {}.NAME takes {}", table.family,
                                          fmt::join(table.fields, ", ")));
  }
  return table.apply(config, name, field, key, value);
}

const Setting* find_setting(std::string_view key) {
  for (const auto& setting : settings()) {
    if (setting.key == key) return &setting;
  }
  return nullptr;
}

// Flattens a TOML table into (dotted key, value as text) pairs; arrays and other non-scalars are
// refused so that a typo cannot silently drop a setting.
Status flatten(const toml::table& table, const std::string& prefix,
               std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [name, node] : table) {
    const std::string key =
        prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
    if (const auto* sub = node.as_table()) {
      SLUICE_RETURN_IF_ERROR(flatten(*sub, key, out));
    } else if (const auto* text = node.as_string()) {
      out.emplace_back(key, text->get());
    } else if (const auto* integer = node.as_integer()) {
      out.emplace_back(key, std::to_string(integer->get()));
    } else if (const auto* boolean = node.as_boolean()) {
      out.emplace_back(key, boolean->get() ? "true" : "false");
    } else if (const auto* array = node.as_array();
               array != nullptr && array->is_homogeneous(toml::node_type::string)) {
      // A list of strings, as in events = ["donation", "cheer"], becomes "donation,cheer".
      std::string joined;
      for (const auto& element : *array) {
        if (!joined.empty()) joined += ',';
        joined += element.as_string()->get();
      }
      out.emplace_back(key, joined);
    } else {
      return setting_error(key, "must be a string, a whole number, a boolean or a list of strings");
    }
  }
  return {};
}

Status apply(Config& config, std::string_view key, std::string_view value,
             std::string_view source) {
  std::string_view name, field;
  if (const NamedTable* table = split_named_key(key, name, field)) {
    return apply_named(*table, config, name, field, key, value);
  }
  const Setting* setting = find_setting(key);
  if (setting == nullptr) {
    return invalid_argument(fmt::format("{}: unknown setting (from {})", key, source));
  }
  return setting->apply(key, value, config);
}

}  // namespace

Result<StorageUrl> StorageUrl::parse(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return invalid_argument(
        fmt::format("\"{}\" is not a storage URL such as rocksdb:./data", text));
  }
  const std::string_view scheme = text.substr(0, colon);
  std::string_view location = text.substr(colon + 1);
  if (scheme != "rocksdb") {
    return invalid_argument(
        fmt::format("unsupported storage \"{}\"; this build supports rocksdb:PATH", scheme));
  }
  if (location.starts_with("//")) location.remove_prefix(2);
  if (location.empty()) return invalid_argument("rocksdb: needs a directory, as in rocksdb:./data");
  return StorageUrl{std::string(scheme), std::string(location)};
}

std::string environment_name(std::string_view key) {
  std::string name = "SLUICE_";
  for (char c : key) name += c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

std::vector<std::string_view> config_keys() {
  std::vector<std::string_view> keys;
  for (const auto& setting : settings()) keys.push_back(setting.key);
  return keys;
}

Result<Config> load_config(const ConfigSources& sources) {
  Config config;

  if (sources.file) {
    toml::table parsed;
    try {
      parsed = sources.file_contents ? toml::parse(*sources.file_contents, *sources.file)
                                     : toml::parse_file(*sources.file);
    } catch (const toml::parse_error& error) {
      return invalid_argument(fmt::format("config: {}:{}:{}: {}", *sources.file,
                                          error.source().begin.line, error.source().begin.column,
                                          error.description()));
    }
    std::vector<std::pair<std::string, std::string>> values;
    SLUICE_RETURN_IF_ERROR(flatten(parsed, "", values));
    for (const auto& [key, value] : values) {
      SLUICE_RETURN_IF_ERROR(apply(config, key, value, *sources.file));
    }
  }

  auto environment = sources.environment;
  if (!environment) {
    environment = [](const std::string& name) -> std::optional<std::string> {
      const char* value = std::getenv(name.c_str());
      if (value == nullptr) return std::nullopt;
      return std::string(value);
    };
  }
  for (const auto& setting : settings()) {
    const std::string name = environment_name(setting.key);
    if (auto value = environment(name)) {
      SLUICE_RETURN_IF_ERROR(apply(config, setting.key, *value, name));
    }
  }
  // Named tables' fields from the environment, for every name the file or the command line
  // declares (webhooks.overlay → SLUICE_WEBHOOKS_OVERLAY_SECRET).
  std::vector<std::pair<std::string, std::string>> declared;  // family, name
  for (const auto& webhook : config.webhooks) declared.emplace_back("webhooks", webhook.name);
  for (const auto& api_key : config.api_keys) declared.emplace_back("keys", api_key.name);
  for (const auto& [key, value] : sources.overrides) {
    std::string_view name, field;
    if (const NamedTable* table = split_named_key(key, name, field)) {
      declared.emplace_back(table->family, name);
    }
  }
  for (const auto& entry : declared) {
    const std::string& family = entry.first;
    const std::string& name = entry.second;
    const NamedTable& table =
        *std::find_if(named_tables().begin(), named_tables().end(),
                      [&](const NamedTable& t) { return t.family == family; });
    for (std::string_view field : table.fields) {
      const std::string key = fmt::format("{}.{}.{}", family, name, field);
      const std::string variable = environment_name(key);
      if (auto value = environment(variable)) {
        SLUICE_RETURN_IF_ERROR(apply(config, key, *value, variable));
      }
    }
  }

  for (const auto& [key, value] : sources.overrides) {
    SLUICE_RETURN_IF_ERROR(apply(config, key, value, "the command line"));
  }

  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (config.http_threads == 0) config.http_threads = cores;
  if (config.engine_partitions == 0) config.engine_partitions = cores;
  if (config.queue_name == config.deadletter_name) {
    return setting_error("queue.deadletter", "must differ from queue.name");
  }
  for (const auto& webhook : config.webhooks) {
    if (webhook.url.empty()) {
      return setting_error(fmt::format("webhooks.{}.url", webhook.name), "is required");
    }
  }
  for (const auto& api_key : config.api_keys) {
    if (api_key.secret.empty()) {
      return setting_error(fmt::format("keys.{}.secret", api_key.name), "is required");
    }
    if (api_key.scopes.empty()) {
      return setting_error(fmt::format("keys.{}.scopes", api_key.name), "is required");
    }
  }
  return config;
}

}  // namespace sluice
