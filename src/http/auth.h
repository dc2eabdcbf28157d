#pragma once

// Authenticator: API keys with scopes. `ingest` posts events; `read` reads stats, events, the
// queue and instance status; `admin` manages instances and dead letters, and may read. A request
// names its key in `Authorization: Bearer KEY`, `X-API-Key: KEY`, `x-functions-key: KEY`, or the
// query parameter `code=KEY` (the last two as Durable Functions clients send it; a header wins
// over `code`).
//
// Keys are held as SHA-256 digests; a presented key is hashed and compared, in constant time,
// against every configured key, so neither timing nor length tells how close a guess was. Keys
// never appear in logs or answers.

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "http/http_settings.h"
#include "http/json_response.h"

namespace sluice::http {

enum class Scope : unsigned { kIngest = 1, kRead = 2, kAdmin = 4 };

// The key a request presents in its URL as `code`, percent-decoded; absent when it has none.
std::optional<std::string> url_key(const Request& request);

class Authenticator {
 public:
  // Scopes are names checked by the configuration (ingest, read, admin).
  explicit Authenticator(const std::vector<ApiKeyConfig>& keys);

  // False when no key is configured: then every request is let through.
  bool enabled() const { return !keys_.empty(); }

  // Nothing when the request may go on; otherwise the answer refusing it: 401 without a valid
  // key, 403 with a key that lacks `needed`.
  std::optional<Response> check(const Request& request, Scope needed) const;

 private:
  struct Key {
    std::array<unsigned char, 32> digest;
    unsigned scopes = 0;
  };
  std::vector<Key> keys_;
};

}  // namespace sluice::http
