#include "connectors/azure/cosmos_client.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "connectors/azure/signing.h"

namespace sluice::azure {
namespace {

namespace json = boost::json;

constexpr int kThrottledAttempts = 10;

Status failure(std::string_view what, const RestResponse& response) {
  std::string message;
  boost::system::error_code error;
  const json::value body = json::parse(response.body, error);
  if (!error && body.is_object()) {
    if (const auto* text = body.as_object().if_contains("message"); text && text->is_string()) {
      message = std::string(text->as_string()).substr(0, 300);
    }
  }
  const std::string shown =
      fmt::format("{}: HTTP {}{}{}", what, response.status, message.empty() ? "" : ": ", message);
  if (response.status == 404) return not_found(shown);
  if (response.status == 409 || response.status == 412) return failed_precondition(shown);
  if (response.status == 408 || response.status == 429 || response.status == 449 ||
      response.status >= 500) {
    return unavailable(shown);
  }
  return invalid_argument(shown);
}

std::string partition_header(std::string_view partition) {
  return "x-ms-documentdb-partitionkey: " + json::serialize(json::array{json::string(partition)});
}

}  // namespace

CosmosClient::CosmosClient(const CosmosAccount& account, std::string database, const Clock& clock,
                           std::chrono::milliseconds timeout,
                           std::function<bool(std::chrono::milliseconds)> wait)
    : account_(account),
      database_(std::move(database)),
      clock_(clock),
      wait_(std::move(wait)),
      client_(timeout) {}

Result<RestResponse> CosmosClient::send(std::string_view verb, std::string_view type,
                                        const std::string& link, const std::string& signed_link,
                                        const std::vector<std::string>& headers,
                                        std::string_view body) {
  for (int attempt = 1;; ++attempt) {
    const std::string date = http_date(clock_.now());
    std::vector<std::string> all = headers;
    all.push_back("x-ms-date: " + date);
    all.push_back(fmt::format("x-ms-version: {}", kVersion));
    all.push_back("authorization: " +
                  cosmos_authorization(verb, type, signed_link, date, account_.key));
    if (!body.empty()) all.emplace_back("Content-Type: application/json");
    SLUICE_ASSIGN_OR_RETURN(auto response,
                            client_.send(verb, account_.endpoint + "/" + link, all, body));
    if (response.status != 429 || attempt == kThrottledAttempts) return response;
    // Throttled: the service says how long to wait.
    std::int64_t after_ms = 100;
    if (const std::string after = response.header("x-ms-retry-after-ms"); !after.empty()) {
      after_ms = std::clamp<std::int64_t>(std::atoll(after.c_str()), 1, 60'000);
    }
    if (!wait_(std::chrono::milliseconds(after_ms))) return response;
  }
}

Status CosmosClient::create_database() {
  SLUICE_ASSIGN_OR_RETURN(auto response, send("POST", "dbs", "dbs", "", {},
                                              json::serialize(json::object{{"id", database_}})));
  if (response.status == 201 || response.status == 409) return {};
  return failure(fmt::format("creating database {}", database_), response);
}

Status CosmosClient::create_container(std::string_view container,
                                      std::string_view partition_key_path) {
  const json::object definition{{"id", container},
                                {"partitionKey",
                                 {{"paths", json::array{json::string(partition_key_path)}},
                                  {"kind", "Hash"},
                                  {"version", 2}}}};
  const std::string parent = "dbs/" + database_;
  SLUICE_ASSIGN_OR_RETURN(auto response, send("POST", "colls", parent + "/colls", parent, {},
                                              json::serialize(definition)));
  if (response.status == 201 || response.status == 409) return {};
  return failure(fmt::format("creating container {}", container), response);
}

Status CosmosClient::upsert(std::string_view container, std::string_view partition,
                            std::string_view document) {
  const std::string parent = fmt::format("dbs/{}/colls/{}", database_, container);
  SLUICE_ASSIGN_OR_RETURN(
      auto response,
      send("POST", "docs", parent + "/docs", parent,
           {partition_header(partition), "x-ms-documentdb-is-upsert: True"}, document));
  if (response.status == 200 || response.status == 201) return {};
  return failure(fmt::format("upserting into {}", container), response);
}

Status CosmosClient::upsert_batch(std::string_view container, std::string_view partition,
                                  std::span<const std::string_view> documents) {
  // The documents are sluice's own serialized JSON: spliced in, not parsed again. Each operation
  // names its partition key as the SDKs do (a JSON array, as text).
  const std::string key_field =
      json::serialize(json::string(json::serialize(json::array{json::string(partition)})));
  std::string body = "[";
  for (const std::string_view document : documents) {
    if (body.size() > 1) body += ',';
    body += R"({"operationType":"Upsert","partitionKey":)";
    body += key_field;
    body += R"(,"resourceBody":)";
    body += document;
    body += '}';
  }
  body += ']';
  const std::string parent = fmt::format("dbs/{}/colls/{}", database_, container);
  const std::string what =
      fmt::format("upserting a batch of {} into {}", documents.size(), container);
  for (int attempt = 1;; ++attempt) {
    SLUICE_ASSIGN_OR_RETURN(auto response,
                            send("POST", "docs", parent + "/docs", parent,
                                 {partition_header(partition), "x-ms-cosmos-is-batch-request: True",
                                  "x-ms-cosmos-batch-atomic: True"},
                                 body));
    if (response.status != 200 && response.status != 207) return failure(what, response);
    // Each operation's own status: a failed one is the batch's failure (the others say 424).
    boost::system::error_code error;
    const json::value results = json::parse(response.body, error);
    if (error || !results.is_array() || results.as_array().size() != documents.size()) {
      return unavailable(fmt::format("{}: an unreadable answer", what));
    }
    std::int64_t failed = 0;
    std::int64_t after_ms = 100;
    if (const std::string after = response.header("x-ms-retry-after-ms"); !after.empty()) {
      after_ms = std::clamp<std::int64_t>(std::atoll(after.c_str()), 1, 60'000);
    }
    for (const auto& result : results.as_array()) {
      const json::object* fields = result.if_object();
      const json::value* code = fields != nullptr ? fields->if_contains("statusCode") : nullptr;
      const std::int64_t status = code != nullptr && code->is_int64() ? code->as_int64() : 0;
      if (status == 200 || status == 201 || status == 424) continue;
      failed = status;
      const json::value* after =
          fields != nullptr ? fields->if_contains("retryAfterMilliseconds") : nullptr;
      if (after != nullptr && after->is_int64()) {
        after_ms = std::clamp<std::int64_t>(after->as_int64(), 1, 60'000);
      }
      break;
    }
    if (failed == 0 && response.status == 200) return {};
    // Throttled inside the batch (nothing of it was written): waited out, and sent again.
    if (failed == 429 && attempt < kThrottledAttempts &&
        wait_(std::chrono::milliseconds(after_ms))) {
      continue;
    }
    if (failed == 0) return unavailable(fmt::format("{}: HTTP 207", what));
    RestResponse refused;
    refused.status = static_cast<long>(failed);
    return failure(what, refused);
  }
}

Result<CosmosDocument> CosmosClient::read(std::string_view container, std::string_view partition,
                                          std::string_view id) {
  const std::string link = fmt::format("dbs/{}/colls/{}/docs/{}", database_, container, id);
  SLUICE_ASSIGN_OR_RETURN(auto response,
                          send("GET", "docs", link, link, {partition_header(partition)}, {}));
  if (response.status != 200) return failure(fmt::format("reading {}/{}", container, id), response);
  CosmosDocument document{std::move(response.body), response.header("etag")};
  return document;
}

Result<std::string> CosmosClient::create(std::string_view container, std::string_view partition,
                                         std::string_view document) {
  const std::string parent = fmt::format("dbs/{}/colls/{}", database_, container);
  SLUICE_ASSIGN_OR_RETURN(auto response, send("POST", "docs", parent + "/docs", parent,
                                              {partition_header(partition)}, document));
  if (response.status == 201) return response.header("etag");
  return failure(fmt::format("creating in {}", container), response);
}

Result<std::string> CosmosClient::replace(std::string_view container, std::string_view partition,
                                          std::string_view id, std::string_view document,
                                          std::string_view etag) {
  const std::string link = fmt::format("dbs/{}/colls/{}/docs/{}", database_, container, id);
  SLUICE_ASSIGN_OR_RETURN(
      auto response,
      send("PUT", "docs", link, link,
           {partition_header(partition), fmt::format("If-Match: {}", etag)}, document));
  if (response.status == 200) return response.header("etag");
  return failure(fmt::format("replacing {}/{}", container, id), response);
}

}  // namespace sluice::azure
