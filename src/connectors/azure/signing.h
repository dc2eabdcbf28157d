#pragma once

// The two ways Azure's REST APIs authorise a request made with an account key: Shared Key for
// the Storage services and the master-key token for Cosmos DB. Both are an HMAC-SHA256, keyed
// with the decoded account key, of a canonical form of the request; they differ in that form.
// Pure functions, checked against the services' published examples.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "sluice/status.h"

namespace sluice::azure {

std::string base64_encode(std::string_view bytes);
// The bytes `text` encodes; absent unless it is padded standard base64 (whitespace refused).
std::optional<std::string> base64_decode(std::string_view text);
// HMAC-SHA256 of `message` keyed with `key`, as raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view message);
// RFC 1123 time as HTTP and both services want it: "Thu, 27 Apr 2017 00:51:12 GMT".
std::string http_date(Micros time);
// Percent-encodes everything but RFC 3986's unreserved characters.
std::string url_encode(std::string_view text);
// Undoes url_encode (and '+' stays '+'); absent for a malformed escape.
std::optional<std::string> url_decode(std::string_view text);

// The parts of a Storage request that Shared Key signs.
struct StorageRequest {
  std::string_view verb;                                        // "GET"
  std::string_view path;                                        // "/alerts/messages", as sent
  std::vector<std::pair<std::string, std::string>> query;       // decoded names and values
  std::vector<std::pair<std::string, std::string>> ms_headers;  // every x-ms-* header
  std::size_t content_length = 0;
  std::string_view content_type;
};

// The string Shared Key signs (version 2009-09-19 and later, Blob/Queue/File form) for a request
// to `account`.
std::string shared_key_string_to_sign(std::string_view account, const StorageRequest& request);
// The Authorization header's value: "SharedKey ACCOUNT:SIGNATURE". `key` is the decoded key.
std::string shared_key_authorization(std::string_view account, std::string_view key,
                                     const StorageRequest& request);

// The Authorization header's value for a Cosmos DB request, URL-encoded as the service wants:
// "type%3dmaster%26ver%3d1.0%26sig%3d…". `resource_type` is "dbs", "colls" or "docs";
// `resource_link` the resource's path without the leading slash ("dbs/sluice/colls/stats"; for a
// feed, its parent's); `date` the x-ms-date header. `key` is the decoded key.
std::string cosmos_authorization(std::string_view verb, std::string_view resource_type,
                                 std::string_view resource_link, std::string_view date,
                                 std::string_view key);

}  // namespace sluice::azure
