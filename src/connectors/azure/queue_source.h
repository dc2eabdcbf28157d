#pragma once

// QueueSource: drains an Azure Storage queue into the intake queue, as the Functions queue
// trigger would hand its messages to a function.
//
// Each receiver thread receives up to azure.batch_size messages, hidden for the visibility
// timeout. A message's body (base64 unless azure.message_encoding is none) is one event or a
// batch, checked exactly as POST /api/events checks it; the events of every good message are
// appended together, and only once they are durable are the messages deleted. A crash in
// between shows the messages again; their events keep their ids (those without an `event_id`
// take one derived from the Azure message id), so the intake queue counts them once.
//
// A message that cannot succeed (not an event, or received more than azure.max_dequeue_count
// times) is recorded as a dead letter (once: its id is derived from the message id) and, in the
// same commit, added to the `poison` outbox addressed to QUEUE-poison, where a QueueForwarder
// copies it as the trigger does; then it is deleted. Nothing is deleted that was not stored: while
// storage or Azure fails, messages stay, and the receiver backs off and tries again. An empty
// queue is polled less and less often, up to azure.max_polling_interval_ms, and at full speed
// again as soon as a message arrives.

#include <atomic>
#include <cstdint>
#include <string>

#include "connectors/azure/azure_settings.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/worker.h"
#include "queue/dead_letter_store.h"
#include "queue/intake_queue.h"
#include "queue/outbox.h"

namespace sluice::azure {

class StorageQueue;
struct QueueMessage;

struct QueueSourceCounters {
  std::atomic<std::uint64_t> messages{0};  // received and stored
  std::atomic<std::uint64_t> events{0};    // appended from them (duplicates included)
  std::atomic<std::uint64_t> poisoned{0};  // dead-lettered and moved to QUEUE-poison
  std::atomic<std::uint64_t> failures{0};  // requests to Azure or appends that failed
};

class QueueSource {
 public:
  struct Options {
    std::size_t max_events = 10000;  // per message, as http.max_batch_events for a POST
  };

  // Everything named must outlive the source.
  QueueSource(const AzureSettings& settings, Options options, queue::IntakeQueue& intake,
              queue::DeadLetterStore& dead_letters, queue::Outbox& poison,
              storage::Backend& backend, const Clock& clock, IdGenerator& ids);
  ~QueueSource();

  void start();
  // Waits for the receivers to finish what they hold: nothing received stays undeleted unless
  // it could not be stored.
  void stop();

  const QueueSourceCounters& counters() const { return counters_; }

 private:
  // One receiver's loop.
  void run(const std::stop_token& stop);
  // Receives and handles one batch; the number of messages received, or why none could be.
  Result<std::size_t> drain_once(StorageQueue& queue, StoppableSleep& sleep,
                                 const std::stop_token& stop);
  // Records `message` as a dead letter for `error` and its copy for the poison queue, then deletes
  // it.
  Status reject(StorageQueue& queue, const QueueMessage& message, const std::string& body_text,
                const std::string& code, const std::string& field, const std::string& error);

  const AzureSettings settings_;
  const Options options_;
  queue::IntakeQueue& intake_;
  queue::DeadLetterStore& dead_letters_;
  queue::Outbox& poison_;
  storage::Backend& backend_;
  const Clock& clock_;
  IdGenerator& ids_;
  QueueSourceCounters counters_;
  Worker receivers_;
};

}  // namespace sluice::azure
