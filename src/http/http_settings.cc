#include "http/http_settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <thread>

namespace sluice::http {
namespace {

// True for addresses only this machine can reach (127.0.0.0/8, ::1).
bool is_loopback(const std::string& host) {
  boost::system::error_code failure;
  const auto address = boost::asio::ip::make_address(host, failure);
  return !failure && address.is_loopback();
}

// host:port, with [v6]:port for IPv6.
Status parse_listen(std::string_view text, HttpSettings& http) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return invalid_argument(fmt::format("\"{}\" is not host:port", text));
  }
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) {
      return invalid_argument(fmt::format("\"{}\" is not host:port", text));
    }
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view port = text.substr(colon + 1);
  const auto [end, failure] = std::from_chars(port.data(), port.data() + port.size(), http.port);
  if (failure != std::errc() || end != port.data() + port.size()) {
    return invalid_argument(fmt::format("\"{}\" has no valid port (0-65535)", text));
  }
  http.host = host == "localhost" ? "127.0.0.1" : std::string(host);
  return {};
}

settings::Parser api_key_field(std::vector<ApiKeyConfig>& keys, std::string_view name,
                               std::string_view field) {
  if (field == "secret") {
    return [&keys, name = std::string(name)](std::string_view value) -> Status {
      const bool printable =
          std::all_of(value.begin(), value.end(), [](char c) { return c > ' ' && c < 127; });
      if (value.size() < 16 || value.size() > 256 || !printable) {
        return invalid_argument("must be 16 to 256 printable ASCII characters without spaces");
      }
      settings::entry_named(keys, name).secret = value;
      return {};
    };
  }
  return [&keys, name = std::string(name)](std::string_view value) -> Status {
    std::vector<std::string> scopes;
    const bool known = settings::split_list(value, scopes) &&
                       std::all_of(scopes.begin(), scopes.end(), [](const std::string& scope) {
                         return scope == "ingest" || scope == "read" || scope == "admin";
                       });
    if (!known) return invalid_argument("must list scopes from ingest, read, admin");
    settings::entry_named(keys, name).scopes = std::move(scopes);
    return {};
  };
}

}  // namespace

void declare_settings(settings::Schema& schema, HttpSettings& http) {
  schema.custom("listen", fmt::format("`{}:{}`", http.host, http.port),
                "`HOST:PORT`; port 0 picks a free port",
                [&http](std::string_view value) { return parse_listen(value, http); });
  schema
      .integer("http.threads", http.threads, 0u, 256u,
               "each thread serves its own share of the connections (assigned in turn as they "
               "open)")
      .shown_default("cores");
  schema.integer<std::size_t>("http.max_body_bytes", http.max_body_bytes, 1024,
                              std::size_t{1} << 30, "larger bodies get `413`");
  schema.integer<std::size_t>("http.max_header_bytes", http.max_header_bytes, 1024,
                              std::size_t{1} << 20, "larger headers get `431`");
  schema.integer<std::size_t>("http.max_batch_events", http.max_batch_events, 1, 1'000'000,
                              "larger batches get `413`");
  schema.integer("http.read_timeout_seconds", http.read_timeout_seconds, 1u, 3600u,
                 "time to receive one request (a client trickling bytes is cut off); idle "
                 "connections close after it");
  schema.integer<std::size_t>("http.max_connections", http.max_connections, 1, 1'000'000,
                              "connections beyond this get `503` + `Retry-After` and are closed");

  auto keys = schema.table("keys", [&http](std::string_view name, std::string_view field) {
    return api_key_field(http.api_keys, name, field);
  });
  keys.field("secret", "", "an API key; declares key NAME").secret();
  keys.field("scopes", "", "list of ingest, read, admin");

  schema.check([&http]() -> Status {
    if (http.threads == 0) http.threads = std::max(1u, std::thread::hardware_concurrency());
    for (const auto& key : http.api_keys) {
      if (key.secret.empty())
        return settings::error(fmt::format("keys.{}.secret", key.name), "is required");
      if (key.scopes.empty())
        return settings::error(fmt::format("keys.{}.scopes", key.name), "is required");
    }
    if (http.api_keys.empty() && !is_loopback(http.host)) {
      return settings::error(
          "listen", fmt::format("{} is reachable from other machines and no API key is "
                                "configured; set keys.NAME.secret and keys.NAME.scopes, or listen "
                                "on 127.0.0.1",
                                http.host));
    }
    return {};
  });
}

}  // namespace sluice::http
