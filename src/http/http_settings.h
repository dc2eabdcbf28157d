#pragma once

// The HTTP server's address, limits and API keys: `listen`, `http.*`, `keys.NAME.*`.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/settings.h"

namespace sluice::http {

// One API key: `keys.NAME.secret` and `keys.NAME.scopes` (ingest, read, admin).
struct ApiKeyConfig {
  std::string name;                 // [a-z0-9_], 1 to 63 characters; for logs, never the secret
  std::string secret;               // 16 to 256 printable ASCII characters, required
  std::vector<std::string> scopes;  // required
};

struct HttpSettings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7070;  // 0 asks the system for a free port
  unsigned threads = 0;       // 0 at declaration: one per core once loaded
  std::size_t max_body_bytes = 8u << 20;
  std::size_t max_header_bytes = 16u << 10;
  std::size_t max_batch_events = 10000;
  unsigned read_timeout_seconds = 30;
  std::size_t max_connections = 10'000;
  std::vector<ApiKeyConfig> api_keys;  // none: no authentication, and loopback only
};

// Also refuses an address other machines can reach when no API key is configured.
void declare_settings(settings::Schema& schema, HttpSettings& http);

}  // namespace sluice::http
