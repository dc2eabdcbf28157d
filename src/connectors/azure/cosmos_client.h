#pragma once

// CosmosClient: the few Cosmos DB (NoSQL API) REST calls the sink makes, authorised with the
// account's master key (x-ms-version pinned). Not thread-safe: one per thread.
//
// A 429 (request rate too large) is waited out as its x-ms-retry-after-ms says and the request
// sent again, a few times; after that, and for transport failures, 408, 449 and 5xx, the answer
// is kUnavailable. A document that is not there is kNotFound; a lost optimistic race (409, 412)
// kFailedPrecondition; anything else kInvalidArgument with the service's message.

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "connectors/azure/accounts.h"
#include "connectors/azure/rest_client.h"
#include "core/clock.h"
#include "sluice/status.h"

namespace sluice::azure {

struct CosmosDocument {
  std::string body;  // JSON, with the service's own properties (_etag, _ts, …)
  std::string etag;
};

class CosmosClient {
 public:
  static constexpr std::string_view kVersion = "2018-12-31";

  // `wait` sleeps for a 429's retry-after and says false when the caller is stopping.
  CosmosClient(const CosmosAccount& account, std::string database, const Clock& clock,
               std::chrono::milliseconds timeout,
               std::function<bool(std::chrono::milliseconds)> wait);

  // Creates the database and a container partitioned by `partition_key_path` ("/stream_id");
  // existing ones are fine.
  Status create_database();
  Status create_container(std::string_view container, std::string_view partition_key_path);

  // What one transactional batch may hold: the service takes 100 operations and a 2 MB request;
  // half that for the documents leaves room for the rest.
  static constexpr std::size_t kBatchOperations = 100;
  static constexpr std::size_t kBatchBytes = 1'000'000;

  // Creates or replaces the document (its "id" names it).
  Status upsert(std::string_view container, std::string_view partition, std::string_view document);
  // Creates or replaces the documents, all of partition `partition`, in one transactional batch:
  // all are written or none. At most kBatchOperations documents of kBatchBytes together.
  Status upsert_batch(std::string_view container, std::string_view partition,
                      std::span<const std::string_view> documents);
  Result<CosmosDocument> read(std::string_view container, std::string_view partition,
                              std::string_view id);
  // Creates the document and says its etag; kFailedPrecondition if one with its id exists.
  Result<std::string> create(std::string_view container, std::string_view partition,
                             std::string_view document);
  // Replaces the document if it is still at `etag` and says its new etag; kFailedPrecondition if
  // it changed, kNotFound if it is gone.
  Result<std::string> replace(std::string_view container, std::string_view partition,
                              std::string_view id, std::string_view document,
                              std::string_view etag);

 private:
  // Sends a request for the resource at `link` ("dbs/D/colls/C/docs/ID"), of `type` ("docs"),
  // signed for `signed_link` (the resource, or for a feed its parent).
  Result<RestResponse> send(std::string_view verb, std::string_view type, const std::string& link,
                            const std::string& signed_link, const std::vector<std::string>& headers,
                            std::string_view body);

  const CosmosAccount account_;
  const std::string database_;
  const Clock& clock_;
  const std::function<bool(std::chrono::milliseconds)> wait_;
  RestClient client_;
};

}  // namespace sluice::azure
