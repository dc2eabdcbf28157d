#pragma once

// The Azure connectors' settings, `azure.*`. With no `azure.storage`, no queue is read and no
// dead letter mirrored; with no `azure.cosmos`, nothing is written to Cosmos DB.

#include <cstdint>
#include <optional>
#include <string>

#include "connectors/azure/accounts.h"
#include "core/settings.h"

namespace sluice::azure {

struct AzureSettings {
  std::optional<StorageAccount> storage;  // azure.storage, parsed; absent: the source is off
  std::string queue = "alerts";
  std::string message_encoding = "base64";  // or "none": raw JSON, as the queue trigger has it
  std::int64_t batch_size = 32;
  std::int64_t receivers = 8;  // threads receiving from the queue, each with its own connection
  std::int64_t visibility_timeout_seconds = 300;
  std::int64_t max_dequeue_count = 5;
  std::int64_t max_polling_interval_ms = 60'000;
  std::string deadletter_queue = "alerts-deadletter";  // empty: dead letters are not mirrored
  std::optional<CosmosAccount> cosmos;                 // azure.cosmos, parsed; absent: no sink
  std::string cosmos_database = "sluice";
};

void declare_settings(settings::Schema& schema, AzureSettings& azure);

}  // namespace sluice::azure
