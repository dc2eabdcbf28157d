#pragma once

// Where durable state lives, how much disk it must leave free, and how long a node sharing a
// PostgreSQL database holds its partitions without renewing: `storage`, `storage.min_free_mb`,
// `storage.lease_ms`.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/settings.h"
#include "sluice/status.h"

namespace sluice::storage {

// "rocksdb:./data" (the embedded default), or a PostgreSQL database: a libpq URI
// ("postgresql://user:pass@host:port/db") or key=value connection string ("host=… dbname=…").
struct StorageUrl {
  std::string scheme;    // "rocksdb" or "postgresql"
  std::string location;  // the data directory; the connection string

  static Result<StorageUrl> parse(std::string_view text);
  // For logs and messages: a connection string's parts without its password.
  std::string to_string() const;
};

struct StorageSettings {
  StorageUrl url{"rocksdb", "./data"};
  std::uint64_t min_free_mb = 256;  // commits wait (503) below this much free disk
  std::uint64_t lease_ms = 10'000;  // PostgreSQL: a node silent this long loses its partitions
};

void declare_settings(settings::Schema& schema, StorageSettings& storage);

}  // namespace sluice::storage
