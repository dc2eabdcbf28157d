#include "connectors/azure/dead_letter_mirror.h"

#include <spdlog/spdlog.h>

#include "connectors/azure/signing.h"
#include "connectors/azure/storage_queue.h"
#include "storage/mutation.h"

namespace sluice::azure {
namespace {

constexpr std::size_t kBatch = 32;
constexpr std::chrono::milliseconds kIdlePoll{200};
constexpr std::chrono::milliseconds kLongestBackOff{30'000};
constexpr std::chrono::seconds kRequestTimeout{30};

}  // namespace

DeadLetterMirror::DeadLetterMirror(const AzureSettings& settings, queue::Outbox& outbox,
                                   storage::Backend& backend, const Clock& clock,
                                   std::function<bool()> active)
    : settings_(settings),
      outbox_(outbox),
      backend_(backend),
      clock_(clock),
      active_(std::move(active)) {}

DeadLetterMirror::~DeadLetterMirror() { stop(); }

void DeadLetterMirror::start() {
  sender_.start("azure-mirror", [this](const std::stop_token& stop) { run(stop); });
}

void DeadLetterMirror::stop() { sender_.stop(); }

void DeadLetterMirror::run(const std::stop_token& stop) {
  StorageQueue queue(*settings_.storage, settings_.deadletter_queue, clock_, kRequestTimeout);
  std::chrono::milliseconds back_off{0};
  bool failing = false;
  while (!stop.stop_requested()) {
    if (!active_()) {
      if (!sleep_.sleep(std::chrono::seconds(1), stop)) break;
      continue;
    }
    // Sends the oldest entries in order; the first failure ends the round.
    Status status;
    std::size_t sent = 0;
    auto entries = outbox_.oldest(kBatch);
    if (!entries.ok()) status = entries.status();
    for (const auto& entry : entries.ok() ? *entries : std::vector<queue::OutboxEntry>{}) {
      if (stop.stop_requested()) break;
      const std::string body =
          settings_.message_encoding == "base64" ? base64_encode(entry.payload) : entry.payload;
      status = queue.put(body);
      if (status.code() == StatusCode::kNotFound) {
        status = queue.create();
        if (status.ok()) status = queue.put(body);
      }
      if (status.code() == StatusCode::kInvalidArgument) {
        // Refused for good (a record beyond Azure's 64 KiB, say): kept in the dead-letter store,
        // but not let to hold up every record after it.
        spdlog::error("azure: queue {} refuses a dead-letter record, which is not mirrored: {}",
                      settings_.deadletter_queue, status.to_string());
        failures_.fetch_add(1, std::memory_order_relaxed);
        status = Status();
      } else if (!status.ok()) {
        break;
      } else {
        sent_.fetch_add(1, std::memory_order_relaxed);
      }
      storage::Mutation removal;
      outbox_.remove(removal, entry);
      status = backend_.commit(removal);
      if (!status.ok()) break;
      ++sent;
    }
    if (status.ok()) {
      if (failing)
        spdlog::info("azure: dead letters reach queue {} again", settings_.deadletter_queue);
      failing = false;
      back_off = std::chrono::milliseconds(0);
      if (sent < kBatch && !sleep_.sleep(kIdlePoll, stop)) break;
      continue;
    }
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (!failing) {
      spdlog::warn("azure: mirroring dead letters to queue {}: {}", settings_.deadletter_queue,
                   status.to_string());
    }
    failing = true;
    back_off = std::min(kLongestBackOff, std::max(std::chrono::milliseconds(100), back_off * 2));
    if (!sleep_.sleep(back_off, stop)) break;
  }
}

}  // namespace sluice::azure
