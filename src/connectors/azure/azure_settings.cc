#include "connectors/azure/azure_settings.h"

#include <fmt/format.h>

namespace sluice::azure {
namespace {

settings::Parser queue_name(std::string& field, bool may_be_empty = false) {
  return [&field, may_be_empty](std::string_view value) -> Status {
    if (!is_valid_queue_name(value) && !(may_be_empty && value.empty())) {
      return invalid_argument(
          "must be 3 to 63 of a-z, 0-9 and '-', starting and ending with a letter or digit, "
          "without \"--\" (Azure's rule for queue names)");
    }
    field = value;
    return {};
  };
}

}  // namespace

void declare_settings(settings::Schema& schema, AzureSettings& azure) {
  schema
      .custom(
          "azure.storage", "",
          "Azure Storage connection string, as `AzureWebJobsStorage` "
          "holds it (`UseDevelopmentStorage=true` for Azurite); sluice then drains `azure.queue`",
          [&azure](std::string_view value) -> Status {
            if (value.empty()) {
              azure.storage.reset();
              return {};
            }
            SLUICE_ASSIGN_OR_RETURN(azure.storage, parse_storage_connection_string(value));
            return {};
          })
      .secret();
  schema.custom("azure.queue", fmt::format("`{}`", azure.queue),
                "the Storage queue whose messages are events; poison goes to `QUEUE-poison`",
                queue_name(azure.queue));
  schema.check([&azure]() -> Status {
    if (!is_valid_queue_name(azure.queue + "-poison")) {
      return settings::error("azure.queue",
                             "must leave room for \"-poison\": at most 56 characters");
    }
    return {};
  });
  schema.choice("azure.message_encoding", azure.message_encoding, {"base64", "none"},
                "how message bodies are encoded, as the queue trigger's `messageEncoding`");
  schema.integer<std::int64_t>("azure.batch_size", azure.batch_size, 1, 32,
                               "messages received at once");
  schema.integer<std::int64_t>("azure.receivers", azure.receivers, 1, 64,
                               "requests to the queue at once: each receiver receives, stores and "
                               "deletes a batch of its own");
  schema.integer<std::int64_t>("azure.visibility_timeout_seconds", azure.visibility_timeout_seconds,
                               1, std::int64_t{7} * 24 * 3600,
                               "how long a received message stays hidden before it is read again");
  schema.integer<std::int64_t>(
      "azure.max_dequeue_count", azure.max_dequeue_count, 1, 1000,
      "a message received more often than this goes to `QUEUE-poison` and to dead letters");
  schema.integer<std::int64_t>("azure.max_polling_interval_ms", azure.max_polling_interval_ms, 100,
                               std::int64_t{24} * 3600 * 1000,
                               "longest wait between polls of an empty queue");
  schema.custom("azure.deadletter_queue", fmt::format("`{}`", azure.deadletter_queue),
                "the Storage queue every dead letter is also put on, the whole record as the "
                "body; empty: none",
                queue_name(azure.deadletter_queue, true));
  schema
      .custom("azure.cosmos", "",
              "Cosmos DB connection string (`AccountEndpoint=…;AccountKey=…;`): sluice keeps the "
              "containers `events` and `stats` there equal to its own",
              [&azure](std::string_view value) -> Status {
                if (value.empty()) {
                  azure.cosmos.reset();
                  return {};
                }
                SLUICE_ASSIGN_OR_RETURN(azure.cosmos, parse_cosmos_connection_string(value));
                return {};
              })
      .secret();
  schema.custom("azure.cosmos_database", fmt::format("`{}`", azure.cosmos_database),
                "the Cosmos DB database, created when missing",
                [&azure](std::string_view value) -> Status {
                  if (value.empty() || value.size() > 255 ||
                      value.find_first_of("/\\#? ") != std::string_view::npos) {
                    return invalid_argument(
                        "must be 1 to 255 characters without '/', '\\', '#', '?' or spaces");
                  }
                  azure.cosmos_database = value;
                  return {};
                });
}

}  // namespace sluice::azure
