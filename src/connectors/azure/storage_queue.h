#pragma once

// StorageQueue: one Azure Storage queue over its REST API (x-ms-version pinned), authorised by
// Shared Key or a SAS. Not thread-safe: one per thread, each with its own connections.
//
// Errors, with the service's error code: kNotFound for a queue or message that is not there (or a
// pop receipt that no longer holds); kInvalidArgument for a message body beyond the service's
// limit, which no retry cures; kUnavailable for everything else (a transport failure, throttling,
// an outage, a refused signature or SAS, a queue being deleted), which a later try may cure.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/azure/accounts.h"
#include "connectors/azure/rest_client.h"
#include "core/clock.h"
#include "sluice/status.h"

namespace sluice::azure {

struct QueueMessage {
  std::string id;
  std::string pop_receipt;
  std::string text;  // MessageText as the service holds it (base64 or not is the producer's)
  std::int64_t dequeue_count = 0;
  Micros inserted_at = 0;
};

class StorageQueue {
 public:
  // The REST version every request names.
  static constexpr std::string_view kVersion = "2023-11-03";

  StorageQueue(const StorageAccount& account, std::string queue, const Clock& clock,
               std::chrono::milliseconds timeout);

  const std::string& name() const { return queue_; }

  // Creates the queue; an existing one is fine.
  Status create();
  // Up to `count` (1–32) messages, each hidden from others for `visibility`.
  Result<std::vector<QueueMessage>> receive(int count, std::chrono::seconds visibility);
  // Deletes a received message; kNotFound if its pop receipt is no longer valid (it became
  // visible again and someone else received it, or it is gone).
  Status remove(const QueueMessage& message);
  // Puts a message that never expires.
  Status put(std::string_view text);

 private:
  Result<RestResponse> send(std::string_view verb, const std::string& path,
                            const std::vector<std::pair<std::string, std::string>>& query,
                            std::string_view body);

  const StorageAccount account_;
  const std::string queue_;
  const Clock& clock_;
  RestClient client_;
};

}  // namespace sluice::azure
