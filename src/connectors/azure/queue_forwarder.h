#pragma once

// QueueForwarder: puts the entries of an Outbox on an Azure Storage queue, oldest first, each
// entry's payload as one message (base64-encoded when asked), creating the queue when missing.
// It carries dead-letter records to azure.deadletter_queue, so that what watched the Functions
// deployment's dead-letter queue keeps working, and poison bodies to QUEUE-poison.
//
// The outbox is filled in the commit that makes the change (a dead letter recorded, a message
// found poison): none is lost to a crash. Each entry is removed once Azure has accepted its
// message; a crash in that instant sends it again (Put Message has no idempotency key), so
// consumers tell copies apart by what the message carries (a dead letter's `id`). While Azure
// fails, entries wait and the forwarder backs off. An entry Azure refuses for good (over its
// 64 KiB) is logged and skipped.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "connectors/azure/accounts.h"
#include "core/clock.h"
#include "core/worker.h"
#include "queue/outbox.h"
#include "storage/backend.h"

namespace sluice::azure {

class QueueForwarder {
 public:
  // Sends to `queue`, or, when it is empty, to the queue each entry names: its payload is the
  // queue's name, a newline, then the message (so where an entry goes is fixed when it is
  // committed). `active` says whether this node sends (where nodes share storage, one does);
  // everything named must outlive the forwarder.
  QueueForwarder(const StorageAccount& account, std::string queue, bool base64,
                 queue::Outbox& outbox, storage::Backend& backend, const Clock& clock,
                 std::function<bool()> active);
  ~QueueForwarder();

  void start();
  void stop();

  std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  std::uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  void run(const std::stop_token& stop);

  const StorageAccount account_;
  const std::string queue_;
  const bool base64_;
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
