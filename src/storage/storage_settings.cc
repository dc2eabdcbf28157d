#include "storage/storage_settings.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <memory>

namespace sluice::storage {
namespace {

using ConnectionOptions = std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>;

// The connection string's options as libpq reads them, or why it cannot. libpq's message names
// the faulty option or URI part; it is checked not to hold the password before it is shown.
Result<ConnectionOptions> parse_conninfo(const std::string& conninfo) {
  char* error = nullptr;
  ConnectionOptions options(PQconninfoParse(conninfo.c_str(), &error), &PQconninfoFree);
  if (options) return options;
  std::string message = error != nullptr ? error : "cannot parse the connection string";
  PQfreemem(error);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (conninfo.find("password") != std::string::npos || conninfo.find('@') != std::string::npos) {
    message = "libpq cannot parse it";  // its message could quote a password
  }
  return invalid_argument(fmt::format("not a PostgreSQL connection string: {}", message));
}

bool is_postgres(std::string_view text) {
  return text.starts_with("postgresql://") || text.starts_with("postgres://") ||
         (text.find('=') != std::string_view::npos && !text.starts_with("rocksdb:"));
}

}  // namespace

std::string StorageUrl::to_string() const {
  if (scheme != "postgresql") return scheme + ":" + location;
  auto options = parse_conninfo(location);
  if (!options.ok()) return "postgresql:(unreadable)";
  std::string shown = "postgresql:";
  for (const PQconninfoOption* option = options->get(); option->keyword != nullptr; ++option) {
    const std::string_view keyword = option->keyword;
    if (option->val == nullptr || keyword == "password" || keyword == "sslpassword") continue;
    shown += fmt::format(" {}={}", keyword, option->val);
  }
  return shown;
}

Result<StorageUrl> StorageUrl::parse(std::string_view text) {
  if (is_postgres(text)) {
    std::string conninfo(text);
    SLUICE_RETURN_IF_ERROR(parse_conninfo(conninfo).status());
    return StorageUrl{"postgresql", std::move(conninfo)};
  }
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return invalid_argument(
        fmt::format("\"{}\" is not a storage URL such as rocksdb:./data", text));
  }
  const std::string_view scheme = text.substr(0, colon);
  std::string_view location = text.substr(colon + 1);
  if (scheme != "rocksdb") {
    return invalid_argument(
        fmt::format("unsupported storage \"{}\"; use rocksdb:PATH or a PostgreSQL connection "
                    "string (postgresql://user:pass@host:port/db)",
                    scheme));
  }
  if (location.starts_with("//")) location.remove_prefix(2);
  if (location.empty()) return invalid_argument("rocksdb: needs a directory, as in rocksdb:./data");
  return StorageUrl{std::string(scheme), std::string(location)};
}

void declare_settings(settings::Schema& schema, StorageSettings& storage) {
  schema.custom(
      "storage", fmt::format("`{}`", storage.url.to_string()),
      "`rocksdb:DIR` (`--data DIR` sets it) or a PostgreSQL libpq URI or `key=value` string, "
      "which several nodes can share",
      [&storage](std::string_view value) -> Status {
        SLUICE_ASSIGN_OR_RETURN(storage.url, StorageUrl::parse(value));
        return {};
      });
  schema.integer<std::uint64_t>(
      "storage.min_free_mb", storage.min_free_mb, 0, 1u << 30,
      "below this much free disk, every write waits (deletes and purges too): ingest answers "
      "`503` + `Retry-After`, processing pauses, until space returns");
  schema.integer<std::uint64_t>(
      "storage.lease_ms", storage.lease_ms, 300, 3'600'000,
      "PostgreSQL: a node that has not renewed its lease for this long is taken for dead and "
      "another node takes over its partitions");
}

}  // namespace sluice::storage
