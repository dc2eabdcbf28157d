#include "http/auth.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

namespace sluice::http {
namespace {

std::array<unsigned char, 32> digest_of(std::string_view text) {
  std::array<unsigned char, 32> digest;
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

unsigned scope_bit(const std::string& name) {
  if (name == "ingest") return static_cast<unsigned>(Scope::kIngest);
  if (name == "read") return static_cast<unsigned>(Scope::kRead);
  if (name == "admin") return static_cast<unsigned>(Scope::kAdmin);
  return 0;
}

const char* scope_name(Scope scope) {
  switch (scope) {
    case Scope::kIngest:
      return "ingest";
    case Scope::kRead:
      return "read";
    case Scope::kAdmin:
      return "admin";
  }
  return "?";
}

// The key the request presents, if any.
std::optional<std::string> presented_key(const Request& request) {
  const std::string_view authorization = request[beast_http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      boost::beast::iequals(authorization.substr(0, kBearer.size()), kBearer)) {
    return std::string(authorization.substr(kBearer.size()));
  }
  for (const char* header : {"X-API-Key", "x-functions-key"}) {
    const std::string_view value = request[header];
    if (!value.empty()) return std::string(value);
  }
  return url_key(request);
}

}  // namespace

std::optional<std::string> url_key(const Request& request) {
  auto url = boost::urls::parse_origin_form(request.target());
  if (!url) return std::nullopt;
  auto found = url->params().find("code");
  if (found == url->params().end() || (*found).value.empty()) return std::nullopt;
  return std::string((*found).value);
}

Authenticator::Authenticator(const std::vector<ApiKeyConfig>& keys) {
  for (const auto& key : keys) {
    Key entry{digest_of(key.secret), 0};
    for (const auto& scope : key.scopes) entry.scopes |= scope_bit(scope);
    // Whoever may change instances and dead letters may also read them.
    if (entry.scopes & static_cast<unsigned>(Scope::kAdmin)) {
      entry.scopes |= static_cast<unsigned>(Scope::kRead);
    }
    keys_.push_back(entry);
  }
}

std::optional<Response> Authenticator::check(const Request& request, Scope needed) const {
  if (keys_.empty()) return std::nullopt;
  const auto key = presented_key(request);
  unsigned scopes = 0;
  bool known = false;
  if (key) {
    const auto digest = digest_of(*key);
    for (const auto& entry : keys_) {  // every key, whatever matched: no early exit
      const bool same = CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
      known |= same;
      scopes |= same ? entry.scopes : 0;
    }
  }
  if (!known) {
    Response response = error_response(beast_http::status::unauthorized, "unauthorized",
                                       key ? "the API key is not valid" : "an API key is required",
                                       "Authorization");
    response.set(beast_http::field::www_authenticate, "Bearer");
    return response;
  }
  if ((scopes & static_cast<unsigned>(needed)) == 0) {
    return error_response(beast_http::status::forbidden, "forbidden",
                          fmt::format("this API key lacks the {} scope", scope_name(needed)),
                          "Authorization");
  }
  return std::nullopt;
}

}  // namespace sluice::http
