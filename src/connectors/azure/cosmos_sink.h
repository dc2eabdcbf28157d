#pragma once

// CosmosSink: keeps two Cosmos DB containers equal to sluice's own documents, as the Functions
// deployment it replaces kept them: `events` (one document per event, id = event_id) and `stats`
// (one per stream, id = stream_id), both partitioned by /stream_id, in azure.cosmos_database.
//
// StreamStore adds an outbox entry in every commit that logs an event or counts one. The sink
// takes the oldest entries, upserts the event documents of each stream (in transactional batches
// of up to 100, one request per batch), then writes the stream's stats document as sluice has it
// now, with `version` = its event count; the entries go once all of that succeeded. So a crash, a
// retry or an outage only repeats writes: an event document is the same document again, and a
// stats document is replaced only by one of a higher version, under the etag of the state the
// sink last saw there, written or read (Cosmos's optimistic concurrency), so it never goes
// backwards and never counts an event twice.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "connectors/azure/azure_settings.h"
#include "core/clock.h"
#include "core/worker.h"
#include "pipeline/stream_store.h"
#include "queue/outbox.h"
#include "storage/backend.h"

namespace sluice::azure {

class CosmosClient;

class CosmosSink {
 public:
  // `active` says whether this node writes (where nodes share storage, one does); everything
  // named must outlive the sink.
  CosmosSink(const AzureSettings& settings, queue::Outbox& outbox, pipeline::StreamStore& streams,
             storage::Backend& backend, const Clock& clock, std::function<bool()> active);
  ~CosmosSink();

  void start();
  void stop();

  std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  std::uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  // Answers of 429 (request rate too large) waited out.
  std::uint64_t throttled() const { return throttled_.load(std::memory_order_relaxed); }

 private:
  void run(const std::stop_token& stop);
  // Sends the oldest entries; how many, or why it could not.
  Result<std::size_t> send_oldest(CosmosClient& cosmos);
  Status write_stats(CosmosClient& cosmos, const std::string& stream_id);

  const AzureSettings settings_;
  queue::Outbox& outbox_;
  pipeline::StreamStore& streams_;
  storage::Backend& backend_;
  const Clock& clock_;
  const std::function<bool()> active_;
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> throttled_{0};
  // What this sink last saw of each stats document in Cosmos (writer thread only): it replaces
  // under that etag without reading first, and reads only when someone else changed it.
  struct KnownStats {
    std::string etag;
    std::int64_t version = 0;
  };
  std::map<std::string, KnownStats, std::less<>> known_stats_;
  StoppableSleep sleep_;
  Worker writer_;
};

}  // namespace sluice::azure
