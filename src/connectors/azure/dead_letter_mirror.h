#pragma once

// DeadLetterMirror: puts every dead-letter record on an Azure Storage queue
// (azure.deadletter_queue), the whole record as the message body, encoded as
// azure.message_encoding says, so that what watched the Functions deployment's dead-letter queue
// keeps working.
//
// Records reach it through an Outbox that DeadLetterStore fills in the commit that adds the
// record: none is lost to a crash. Each entry is removed once Azure has accepted its message; a
// crash in that instant sends it again (Put Message has no idempotency key), so consumers tell
// copies apart by the record's `id` and `dead_lettered_at`. While Azure fails, entries wait and
// the mirror backs off. A record Azure refuses for good (over its 64 KiB) is logged and skipped.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "connectors/azure/azure_settings.h"
#include "core/clock.h"
#include "core/worker.h"
#include "queue/outbox.h"
#include "storage/backend.h"

namespace sluice::azure {

class DeadLetterMirror {
 public:
  // `active` says whether this node sends (where nodes share storage, one does); everything
  // named must outlive the mirror.
  DeadLetterMirror(const AzureSettings& settings, queue::Outbox& outbox, storage::Backend& backend,
                   const Clock& clock, std::function<bool()> active);
  ~DeadLetterMirror();

  void start();
  void stop();

  std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  std::uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  void run(const std::stop_token& stop);

  const AzureSettings settings_;
  queue::Outbox& outbox_;
  storage::Backend& backend_;
  const Clock& clock_;
  const std::function<bool()> active_;
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> failures_{0};
  StoppableSleep sleep_;
  Worker sender_;
};

}  // namespace sluice::azure
