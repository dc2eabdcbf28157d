#include "connectors/azure/cosmos_sink.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <map>

#include "connectors/azure/cosmos_client.h"
#include "storage/mutation.h"

namespace sluice::azure {
namespace {

namespace json = boost::json;

constexpr std::size_t kBatch = 256;
constexpr std::chrono::milliseconds kIdlePoll{100};
constexpr std::chrono::milliseconds kLongestBackOff{30'000};
constexpr std::chrono::seconds kRequestTimeout{10};
constexpr int kRaces = 10;  // lost optimistic races on one stats document before giving up a round

}  // namespace

CosmosSink::CosmosSink(const AzureSettings& settings, queue::Outbox& outbox,
                       pipeline::StreamStore& streams, storage::Backend& backend,
                       const Clock& clock, std::function<bool()> active)
    : settings_(settings),
      outbox_(outbox),
      streams_(streams),
      backend_(backend),
      clock_(clock),
      active_(std::move(active)) {}

CosmosSink::~CosmosSink() { stop(); }

void CosmosSink::start() {
  writer_.start("azure-cosmos", [this](const std::stop_token& stop) { run(stop); });
}

void CosmosSink::stop() { writer_.stop(); }

void CosmosSink::run(const std::stop_token& stop) {
  CosmosClient cosmos(*settings_.cosmos, settings_.cosmos_database, clock_, kRequestTimeout,
                      [this, &stop](std::chrono::milliseconds delay) {
                        throttled_.fetch_add(1, std::memory_order_relaxed);
                        return sleep_.sleep(delay, stop);
                      });
  bool ready = false;  // the database and containers exist
  bool failing = false;
  std::chrono::milliseconds back_off{0};
  while (!stop.stop_requested()) {
    if (!active_()) {
      if (!sleep_.sleep(std::chrono::seconds(1), stop)) break;
      continue;
    }
    Result<std::size_t> sent = std::size_t{0};
    if (!ready) {
      Status created = cosmos.create_database();
      if (created.ok()) created = cosmos.create_container("events", "/stream_id");
      if (created.ok()) created = cosmos.create_container("stats", "/stream_id");
      ready = created.ok();
      if (!ready) sent = created;
    }
    if (ready) sent = send_oldest(cosmos);
    if (sent.ok()) {
      if (failing) spdlog::info("azure: Cosmos DB answers again");
      failing = false;
      back_off = std::chrono::milliseconds(0);
      if (*sent < kBatch && !sleep_.sleep(kIdlePoll, stop)) break;
      continue;
    }
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (!failing) spdlog::warn("azure: writing to Cosmos DB: {}", sent.status().to_string());
    failing = true;
    back_off = std::min(kLongestBackOff, std::max(std::chrono::milliseconds(100), back_off * 2));
    if (!sleep_.sleep(back_off, stop)) break;
  }
}

Result<std::size_t> CosmosSink::send_oldest(CosmosClient& cosmos) {
  SLUICE_ASSIGN_OR_RETURN(auto entries, outbox_.oldest(kBatch));
  if (entries.empty()) return std::size_t{0};
  // Per stream (the partition key): the event documents, in order.
  std::map<std::string, std::vector<std::string_view>> streams;
  for (const auto& entry : entries) {
    boost::system::error_code error;
    const json::value parsed = json::parse(entry.payload, error);
    const json::object* fields = error ? nullptr : parsed.if_object();
    const json::value* stream = fields == nullptr ? nullptr : fields->if_contains("stream_id");
    if (stream == nullptr || !stream->is_string()) {
      spdlog::error("azure: an unreadable Cosmos DB outbox entry {} is dropped", entry.id);
      continue;
    }
    auto& documents = streams[std::string(stream->get_string())];
    if (fields->contains("id")) documents.emplace_back(entry.payload);
  }
  for (const auto& [stream, documents] : streams) {
    // As few transactional batches as their limits allow; a document too big for any batch is
    // refused by Cosmos on its own.
    std::size_t first = 0;
    while (first < documents.size()) {
      std::size_t end = first;
      std::size_t bytes = 0;
      while (end < documents.size() && end - first < CosmosClient::kBatchOperations &&
             (end == first || bytes + documents[end].size() <= CosmosClient::kBatchBytes)) {
        bytes += documents[end].size();
        ++end;
      }
      const std::span<const std::string_view> chunk(documents.data() + first, end - first);
      SLUICE_RETURN_IF_ERROR(chunk.size() == 1 ? cosmos.upsert("events", stream, chunk.front())
                                               : cosmos.upsert_batch("events", stream, chunk));
      written_.fetch_add(chunk.size(), std::memory_order_relaxed);
      first = end;
    }
    SLUICE_RETURN_IF_ERROR(write_stats(cosmos, stream));
  }
  storage::Mutation removal;
  // Where nodes share storage, only the holder of partition 0 sends: a node that lost it while
  // sending has its removal refused, so an entry's removal (and the depth) counts once.
  removal.fence_by(0);
  for (const auto& entry : entries) outbox_.remove(removal, entry);
  SLUICE_RETURN_IF_ERROR(backend_.commit(removal));
  return entries.size();
}

Status CosmosSink::write_stats(CosmosClient& cosmos, const std::string& stream_id) {
  SLUICE_ASSIGN_OR_RETURN(auto view, streams_.stats_view(stream_id));
  if (!view) return {};
  json::object document = std::move(*view);
  const std::int64_t version = document.at("events").as_int64();
  document["id"] = stream_id;
  document["version"] = version;
  const std::string text = json::serialize(document);
  auto known = known_stats_.find(stream_id);
  if (known != known_stats_.end() && known->second.version >= version) return {};  // there already
  auto wrote = [&](const std::string& etag) {
    written_.fetch_add(1, std::memory_order_relaxed);
    known_stats_[stream_id] = KnownStats{etag, version};
    return Status();
  };
  // Replaced unread under the etag this sink has (as it left it), or created when it has none
  // (new to Cosmos, or first seen since a start); read only when that meets someone else's.
  std::optional<std::string> etag;
  if (known != known_stats_.end()) etag = known->second.etag;
  for (int race = 0; race < kRaces; ++race) {
    Result<std::string> written = etag ? cosmos.replace("stats", stream_id, stream_id, text, *etag)
                                       : cosmos.create("stats", stream_id, text);
    if (written.ok()) return wrote(*written);
    if (written.status().code() == StatusCode::kNotFound) {  // removed meanwhile: create it
      etag.reset();
      continue;
    }
    if (written.status().code() != StatusCode::kFailedPrecondition) return written.status();
    Result<CosmosDocument> existing = cosmos.read("stats", stream_id, stream_id);
    if (existing.status().code() == StatusCode::kNotFound) {
      etag.reset();
      continue;
    }
    SLUICE_RETURN_IF_ERROR(existing.status());
    boost::system::error_code error;
    const json::value stored = json::parse(existing->body, error);
    const json::value* stored_version =
        error || !stored.is_object() ? nullptr : stored.as_object().if_contains("version");
    // Cosmos has this state or a later one already: never backwards.
    if (stored_version != nullptr && stored_version->is_int64() &&
        stored_version->as_int64() >= version) {
      known_stats_[stream_id] = KnownStats{existing->etag, stored_version->as_int64()};
      return {};
    }
    etag = existing->etag;
  }
  return unavailable(fmt::format("the stats document of {} kept changing", stream_id));
}

}  // namespace sluice::azure
