#include "storage/storage_settings.h"

#include <fmt/format.h>

namespace sluice::storage {

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

void declare_settings(settings::Schema& schema, StorageSettings& storage) {
  schema.custom("storage", fmt::format("`{}`", storage.url.to_string()),
                "`--data DIR` sets `rocksdb:DIR`", [&storage](std::string_view value) -> Status {
                  SLUICE_ASSIGN_OR_RETURN(storage.url, StorageUrl::parse(value));
                  return {};
                });
  schema.integer<std::uint64_t>(
      "storage.min_free_mb", storage.min_free_mb, 0, 1u << 30,
      "below this much free disk, every write waits (deletes and purges too): ingest answers "
      "`503` + `Retry-After`, processing pauses, until space returns");
}

}  // namespace sluice::storage
