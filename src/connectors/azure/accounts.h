#pragma once

// Azure accounts as connection strings name them. Errors name what is wrong, never a key or a
// signature.
//
//   Storage, as AzureWebJobsStorage holds it:
//     DefaultEndpointsProtocol=https;AccountName=NAME;AccountKey=KEY;EndpointSuffix=core.windows.net
//     …;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1     (an explicit endpoint)
//     QueueEndpoint=https://NAME.queue.core.windows.net;SharedAccessSignature=sv=…&sig=…
//     UseDevelopmentStorage=true                                (Azurite on its default port)
//   Cosmos DB:
//     AccountEndpoint=https://NAME.documents.azure.com:443/;AccountKey=KEY;

#include <string>
#include <string_view>

#include "sluice/status.h"

namespace sluice::azure {

struct StorageAccount {
  std::string name;            // signs Shared Key requests; may be empty with a SAS
  std::string key;             // decoded; empty with a SAS
  std::string sas;             // the query a SAS adds, without '?'; empty with a key
  std::string queue_endpoint;  // scheme://host[:port][/path], no trailing '/'
};

struct CosmosAccount {
  std::string endpoint;  // scheme://host[:port], no trailing '/'
  std::string key;       // decoded
};

Result<StorageAccount> parse_storage_connection_string(std::string_view text);
// Whether `name` is a valid queue name: 3–63 of a-z, 0-9 and '-', starting and ending with a
// letter or digit, no "--".
bool is_valid_queue_name(std::string_view name);
Result<CosmosAccount> parse_cosmos_connection_string(std::string_view text);

}  // namespace sluice::azure
