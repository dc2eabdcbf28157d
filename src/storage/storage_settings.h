#pragma once

// Where durable state lives, and how much disk it must leave free: `storage`,
// `storage.min_free_mb`.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/settings.h"
#include "sluice/status.h"

namespace sluice::storage {

// "rocksdb:./data" (the embedded default).
struct StorageUrl {
  std::string scheme;    // "rocksdb"
  std::string location;  // for rocksdb, the data directory

  static Result<StorageUrl> parse(std::string_view text);
  std::string to_string() const { return scheme + ":" + location; }
};

struct StorageSettings {
  StorageUrl url{"rocksdb", "./data"};
  std::uint64_t min_free_mb = 256;  // commits wait (503) below this much free disk
};

void declare_settings(settings::Schema& schema, StorageSettings& storage);

}  // namespace sluice::storage
