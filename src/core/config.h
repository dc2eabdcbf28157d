#pragma once

// Server configuration: defaults, overridden by a TOML file, overridden by SLUICE_* environment
// variables, overridden by command-line settings. Every value is checked here, before anything
// starts; an error names the key ("http.max_body_bytes: must be a whole number ≥ 1024").
//
// Keys are dotted ("queue.name"); in TOML they are tables ([queue] name = "alerts"), in the
// environment upper-case with underscores (SLUICE_QUEUE_NAME), on the command line `--set
// queue.name=alerts`.
//
// Webhooks and API keys are named tables ([webhooks.overlay] url = "…", [keys.bot] scopes = …).
// One is declared in the file or with --set; each of its keys may then also come from the
// environment (SLUICE_WEBHOOKS_OVERLAY_SECRET), which keeps secrets out of the file.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/status.h"

namespace sluice {

// Where durable state lives: "rocksdb:./data" (the embedded default).
struct StorageUrl {
  std::string scheme;    // "rocksdb"
  std::string location;  // for rocksdb, the data directory

  static Result<StorageUrl> parse(std::string_view text);
  std::string to_string() const { return scheme + ":" + location; }
};

// One outbound webhook: `webhooks.NAME.url`, `.secret`, `.events`, `.timeout_ms`.
struct WebhookConfig {
  std::string name;    // [a-z0-9_], 1 to 63 characters
  std::string url;     // http:// or https://, required
  std::string secret;  // HMAC-SHA256 key for the signature header; empty: unsigned
  std::vector<std::string> event_types;  // empty: every type
  unsigned timeout_ms = 5000;
};

// One API key: `keys.NAME.secret` and `keys.NAME.scopes` (ingest, read, admin).
struct ApiKeyConfig {
  std::string name;                 // [a-z0-9_], 1 to 63 characters; for logs, never the secret
  std::string secret;               // 16 to 256 printable ASCII characters, required
  std::vector<std::string> scopes;  // required
};

struct Config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 7070;  // 0 asks the system for a free port
  StorageUrl storage{"rocksdb", "./data"};
  std::uint64_t storage_min_free_mb = 256;  // commits wait (503) below this much free disk
  std::string queue_name = "alerts";
  std::string deadletter_name = "alerts-deadletter";
  std::int64_t queue_max_depth = 10'000'000;  // appends beyond this many queued events get 503
  unsigned http_threads = 0;                  // 0: one per core
  std::size_t max_body_bytes = 8u << 20;
  std::size_t max_header_bytes = 16u << 10;
  std::size_t max_batch_events = 10000;
  unsigned read_timeout_seconds = 30;
  std::size_t max_connections = 10'000;
  unsigned engine_partitions = 0;  // 0: one per core
  unsigned activity_workers = 1;
  std::size_t max_active_instances = 100'000;
  unsigned retention_hours = 0;  // finished instances kept this long; 0: forever
  std::size_t pipeline_max_in_flight = 10'000;
  bool pipeline_paused = false;  // accept and queue events, but start no processing
  int retry_max_attempts = 5;
  unsigned retry_first_interval_ms = 1000;
  double retry_backoff_coefficient = 2.0;
  unsigned retry_max_interval_ms = 30'000;
  std::vector<WebhookConfig> webhooks;
  std::vector<ApiKeyConfig> api_keys;  // none: no authentication, and loopback only
  std::string log_level = "info";
};

struct ConfigSources {
  std::optional<std::string> file;           // a TOML file; it must exist when named
  std::optional<std::string> file_contents;  // when set, read instead of `file`, named as it
  // Reads an environment variable; defaults to the process environment.
  std::function<std::optional<std::string>(const std::string&)> environment;
  std::vector<std::pair<std::string, std::string>> overrides;  // key, value; applied in order
};

Result<Config> load_config(const ConfigSources& sources);

// Every key, for `sluice serve --help` and error messages.
std::vector<std::string_view> config_keys();

// The environment variable that sets `key`: "queue.name" → "SLUICE_QUEUE_NAME".
std::string environment_name(std::string_view key);

}  // namespace sluice
