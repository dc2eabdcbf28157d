#include "connectors/azure/queue_forwarder.h"

#include <spdlog/spdlog.h>

#include <map>

#include "connectors/azure/accounts.h"
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

QueueForwarder::QueueForwarder(const StorageAccount& account, std::string queue, bool base64,
                               queue::Outbox& outbox, storage::Backend& backend, const Clock& clock,
                               std::function<bool()> active)
    : account_(account),
      queue_(std::move(queue)),
      base64_(base64),
      outbox_(outbox),
      backend_(backend),
      clock_(clock),
      active_(std::move(active)) {}

QueueForwarder::~QueueForwarder() { stop(); }

void QueueForwarder::start() {
  sender_.start("azure-send", [this](const std::stop_token& stop) { run(stop); });
}

void QueueForwarder::stop() { sender_.stop(); }

void QueueForwarder::run(const std::stop_token& stop) {
  std::map<std::string, StorageQueue, std::less<>> queues;  // by name, each with its connections
  auto queue_named = [&](std::string_view name) -> StorageQueue& {
    auto found = queues.find(name);
    if (found == queues.end()) {
      found =
          queues
              .try_emplace(std::string(name), account_, std::string(name), clock_, kRequestTimeout)
              .first;
    }
    return found->second;
  };
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
      // Addressed entries: the queue's name, a newline, the message.
      std::string_view name = queue_;
      std::string_view message = entry.payload;
      if (queue_.empty()) {
        const std::size_t newline = message.find('\n');
        name = message.substr(0, newline);
        message = newline == std::string_view::npos ? "" : message.substr(newline + 1);
      }
      if (!is_valid_queue_name(name)) {
        status = invalid_argument(fmt::format("no queue is named \"{}\"", name.substr(0, 64)));
      } else {
        StorageQueue& queue = queue_named(name);
        const std::string body = base64_ ? base64_encode(message) : std::string(message);
        status = queue.put(body);
        if (status.code() == StatusCode::kNotFound) {
          status = queue.create();
          if (status.ok()) status = queue.put(body);
        }
      }
      if (status.code() == StatusCode::kInvalidArgument) {
        // Refused for good (beyond Azure's 64 KiB, say, or addressed to no valid queue): not let
        // to hold up every entry after it. What it copies stays in sluice (a dead letter keeps the
        // record and the body).
        spdlog::error("azure: queue {} refuses an entry of outbox {}, which is skipped: {}", name,
                      outbox_.name(), status.to_string());
        failures_.fetch_add(1, std::memory_order_relaxed);
        status = Status();
      } else if (!status.ok()) {
        break;
      } else {
        sent_.fetch_add(1, std::memory_order_relaxed);
      }
      storage::Mutation removal;
      // Where nodes share storage, only the holder of partition 0 sends: a node that lost it while
      // sending has its removal refused, so an entry's removal (and the depth) counts once.
      removal.fence_by(0);
      outbox_.remove(removal, entry);
      status = backend_.commit(removal);
      if (!status.ok()) break;
      ++sent;
    }
    if (status.ok()) {
      if (failing) spdlog::info("azure: outbox {} reaches Azure again", outbox_.name());
      failing = false;
      back_off = std::chrono::milliseconds(0);
      if (sent < kBatch && !sleep_.sleep(kIdlePoll, stop)) break;
      continue;
    }
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (!failing) {
      spdlog::warn("azure: sending outbox {}: {}", outbox_.name(), status.to_string());
    }
    failing = true;
    back_off = std::min(kLongestBackOff, std::max(std::chrono::milliseconds(100), back_off * 2));
    if (!sleep_.sleep(back_off, stop)) break;
  }
}

}  // namespace sluice::azure
