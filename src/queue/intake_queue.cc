#include "queue/intake_queue.h"

#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <iterator>
#include <unordered_set>

#include "core/worker.h"
#include "storage/key_encoding.h"

namespace sluice::queue {

using storage::Table;

std::size_t AppendOutcome::accepted() const {
  return static_cast<std::size_t>(std::count(duplicate.begin(), duplicate.end(), false));
}

Result<std::unique_ptr<IntakeQueue>> IntakeQueue::open(storage::Backend& backend,
                                                       const Clock& clock, std::string name,
                                                       std::int64_t max_depth,
                                                       std::optional<unsigned> fence) {
  SLUICE_ASSIGN_OR_RETURN(auto next,
                          backend.get(Table::kMeta, storage::key_prefix({"queue", name}) + "next"));
  std::uint64_t next_sequence = 1;
  if (next) {
    if (next->size() != 8)
      return corruption(fmt::format("queue {}: next sequence is damaged", name));
    next_sequence = storage::read_big_endian(*next);
  }
  SLUICE_ASSIGN_OR_RETURN(std::int64_t depth,
                          backend.counter(storage::key_prefix({"queue", name}) + "depth"));
  return std::unique_ptr<IntakeQueue>(
      new IntakeQueue(backend, clock, std::move(name), next_sequence, depth, max_depth, fence));
}

IntakeQueue::IntakeQueue(storage::Backend& backend, const Clock& clock, std::string name,
                         std::uint64_t next_sequence, std::int64_t depth, std::int64_t max_depth,
                         std::optional<unsigned> fence)
    : backend_(backend),
      clock_(clock),
      name_(std::move(name)),
      max_depth_(max_depth),
      fence_(fence),
      depth_(depth),
      key_prefix_(storage::key_prefix({name_})),
      next_sequence_key_(storage::key_prefix({"queue", name_}) + "next"),
      depth_key_(storage::key_prefix({"queue", name_}) + "depth"),
      next_sequence_(next_sequence) {
  appender_.start("intake-append", [this](const std::stop_token& stop) { run_appender(stop); });
  answerer_.start("intake-answer", [this](const std::stop_token& stop) { run_answerer(stop); });
}

IntakeQueue::~IntakeQueue() { stop(); }

void IntakeQueue::stop() {
  // The appender commits everything accepted before it returns; only then may the answerer stop,
  // once it has answered every group written.
  appender_.stop();
  answerer_.stop();
}

std::string IntakeQueue::message_key(std::uint64_t sequence) const {
  std::string key = key_prefix_;
  storage::append_big_endian(key, sequence);
  return key;
}

void IntakeQueue::append(std::vector<NewMessage> messages, AppendCallback done) {
  {
    std::lock_guard lock(append_mutex_);
    if (!appender_.stop_requested()) {
      pending_.push_back({std::move(messages), std::move(done)});
      if (pending_.size() == 1) append_ready_.notify_one();
      return;
    }
  }
  done(unavailable("the intake queue is shutting down"));
}

Result<AppendOutcome> IntakeQueue::append_and_wait(std::vector<NewMessage> messages) {
  std::promise<Result<AppendOutcome>> promise;
  auto future = promise.get_future();
  append(std::move(messages),
         [&promise](Result<AppendOutcome> outcome) { promise.set_value(std::move(outcome)); });
  return future.get();
}

void IntakeQueue::run_appender(const std::stop_token& stop) {
  const WakeOnStop wake_on_stop(stop, append_mutex_, append_ready_);
  std::vector<PendingAppend> group;
  while (true) {
    {
      std::unique_lock lock(append_mutex_);
      append_ready_.wait(lock, [&] { return stop.stop_requested() || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and everything accepted has been committed
      group.swap(pending_);
    }
    WrittenGroup written = write_group(group);
    group.clear();
    {
      std::lock_guard lock(answer_mutex_);
      written_.push_back(std::move(written));
    }
    answer_ready_.notify_one();
  }
}

// Answers written groups in order, each once the disk has it: one wait covers every group that
// was written meanwhile.
void IntakeQueue::run_answerer(const std::stop_token& stop) {
  const WakeOnStop wake_on_stop(stop, answer_mutex_, answer_ready_);
  std::deque<WrittenGroup> groups;
  while (true) {
    {
      std::unique_lock lock(answer_mutex_);
      answer_ready_.wait(lock, [&] { return stop.stop_requested() || !written_.empty(); });
      // Stopped only after the appender: every group it wrote has been answered.
      if (written_.empty()) return;
      groups.swap(written_);
    }
    std::uint64_t ticket = 0;  // a group that failed to be written waits for nothing
    for (const auto& group : groups) ticket = std::max(ticket, group.ticket);
    const Status durable = backend_.wait_durable(ticket);
    for (auto& group : groups) {
      for (size_t g = 0; g < group.done.size(); ++g) {
        if (durable.ok() || !group.answers[g].ok()) {
          group.done[g](std::move(group.answers[g]));
        } else {
          group.done[g](durable);
        }
      }
    }
    groups.clear();
  }
}

// Checks `group` for duplicates and the bound, and writes what it adds. What is written is
// readable at once (the next group's duplicate check sees it); the answers wait for the disk.
IntakeQueue::WrittenGroup IntakeQueue::write_group(std::vector<PendingAppend>& group) {
  WrittenGroup written;
  for (auto& pending : group) written.done.push_back(std::move(pending.done));
  auto fail_all = [&](const Status& status) {
    written.answers.assign(group.size(), status);
    return std::move(written);
  };
  std::vector<std::string> idempotency_keys;
  for (const auto& pending : group) {
    for (const auto& message : pending.messages) {
      idempotency_keys.push_back(key_prefix_ + message.id);
    }
  }
  auto seen_before = backend_.get_many(Table::kIdempotency, idempotency_keys);
  if (!seen_before.ok()) return fail_all(seen_before.status());

  const Micros now = clock_.now();
  const std::uint64_t first_sequence = next_sequence_;
  std::uint64_t sequence = first_sequence;
  std::unordered_set<std::string_view> seen_in_group;
  std::vector<AppendOutcome> outcomes(group.size());
  std::vector<bool> over_bound(group.size(), false);
  storage::Mutation mutation;
  if (fence_) mutation.fence_by(*fence_);
  size_t index = 0;
  const std::int64_t depth = depth_.load();
  for (size_t g = 0; g < group.size(); ++g) {
    // All or nothing: a batch that would take the queue past its bound is refused whole.
    std::unordered_set<std::string_view> in_batch;
    std::int64_t fresh = 0;
    for (size_t i = 0; i < group[g].messages.size(); ++i) {
      const std::string& idempotency_key = idempotency_keys[index + i];
      const bool duplicate = (*seen_before)[index + i].has_value() ||
                             seen_in_group.contains(idempotency_key) ||
                             !in_batch.insert(idempotency_key).second;
      outcomes[g].duplicate.push_back(duplicate);
      fresh += duplicate ? 0 : 1;
    }
    const std::int64_t queued = static_cast<std::int64_t>(sequence - first_sequence);
    if (fresh > 0 && depth + queued + fresh > max_depth_) {
      over_bound[g] = true;
      index += group[g].messages.size();
      continue;
    }
    seen_in_group.insert(in_batch.begin(), in_batch.end());
    for (const auto& message : group[g].messages) {
      const std::string& idempotency_key = idempotency_keys[index];
      const bool duplicate = outcomes[g].duplicate[&message - group[g].messages.data()];
      ++index;
      if (duplicate) continue;
      std::string record;
      storage::append_big_endian(record, sequence);
      record += storage::encode_counter(now);
      mutation.put(Table::kIdempotency, idempotency_key, record);
      mutation.put(Table::kQueue, message_key(sequence),
                   encode_message({sequence, message.id, now, message.body}));
      ++sequence;
    }
  }

  if (sequence != first_sequence) {
    std::string next;
    storage::append_big_endian(next, sequence);
    mutation.put(Table::kMeta, next_sequence_key_, next);
    mutation.add(depth_key_, static_cast<std::int64_t>(sequence - first_sequence));
    auto ticket = backend_.apply(mutation);
    // Sequences are spent even by a failed commit: one whose outcome is unknown may have landed,
    // and its messages must never be overwritten (a gap costs nothing).
    next_sequence_ = sequence;
    if (!ticket.ok()) return fail_all(ticket.status());
    written.ticket = *ticket;
    depth_ += static_cast<std::int64_t>(sequence - first_sequence);
    if (append_listener_) append_listener_();
  } else {
    // Nothing new, but duplicates are answered from what was read: that must be on disk too.
    written.ticket = backend_.applied();
  }
  for (size_t g = 0; g < group.size(); ++g) {
    if (over_bound[g]) {
      written.answers.push_back(resource_exhausted(fmt::format(
          "queue {} holds {} events, its bound (queue.max_depth); try again later", name_, depth)));
    } else {
      written.answers.push_back(std::move(outcomes[g]));
    }
  }
  return written;
}

Result<std::vector<Message>> IntakeQueue::lease(std::size_t max) {
  std::lock_guard lock(lease_mutex_);
  std::vector<Message> leased;
  storage::ScanOptions scan;
  scan.prefix = key_prefix_;
  if (lease_from_ > 0) scan.after = message_key(lease_from_ - 1);
  // Enough to skip every message already leased at or after lease_from_; those below it are not
  // scanned. Usually none is (only a lease given back lowers lease_from_), and counting the whole
  // set instead made each lease read up to every message in flight again.
  scan.limit = max + static_cast<std::size_t>(
                         std::distance(leased_.lower_bound(lease_from_), leased_.end()));
  SLUICE_ASSIGN_OR_RETURN(auto entries, backend_.scan(Table::kQueue, scan));
  for (const auto& entry : entries) {
    if (leased.size() == max) break;
    if (entry.key.size() != key_prefix_.size() + 8) {
      return corruption(fmt::format("queue {}: malformed key", name_));
    }
    const std::uint64_t sequence = storage::read_big_endian(entry.key.substr(key_prefix_.size()));
    if (leased_.contains(sequence)) continue;
    SLUICE_ASSIGN_OR_RETURN(Message message, decode_message(sequence, entry.value));
    leased_.insert(sequence);
    leased.push_back(std::move(message));
  }
  if (!leased.empty()) {
    // Every message up to the last one leased is now leased or taken.
    lease_from_ = std::max(lease_from_, leased.back().sequence + 1);
  }
  return leased;
}

void IntakeQueue::take(storage::Mutation& mutation, const Message& message) const {
  mutation.erase(Table::kQueue, message_key(message.sequence));
  mutation.add(depth_key_, -1);
  if (fence_ && !mutation.fence()) mutation.fence_by(*fence_);
}

void IntakeQueue::settle(std::span<const std::uint64_t> sequences, bool taken) {
  std::lock_guard lock(lease_mutex_);
  for (std::uint64_t sequence : sequences) {
    leased_.erase(sequence);
    if (!taken) lease_from_ = std::min(lease_from_, sequence);
  }
  if (taken) depth_ -= static_cast<std::int64_t>(sequences.size());
}

Result<QueueStats> IntakeQueue::stats() {
  QueueStats stats;
  SLUICE_ASSIGN_OR_RETURN(stats.depth, backend_.counter(depth_key_));
  storage::ScanOptions scan;
  scan.prefix = key_prefix_;
  scan.limit = 1;
  {
    std::lock_guard lock(lease_mutex_);
    stats.in_flight = leased_.size();
    // Below the first lease (or lease_from_) everything has been taken: start there so the scan
    // does not walk over deleted messages.
    const std::uint64_t oldest_possible =
        leased_.empty() ? lease_from_ : std::min(lease_from_, *leased_.begin());
    if (oldest_possible > 0) scan.after = message_key(oldest_possible - 1);
  }
  SLUICE_ASSIGN_OR_RETURN(auto entries, backend_.scan(Table::kQueue, scan));
  if (!entries.empty()) {
    const std::uint64_t sequence =
        storage::read_big_endian(std::string_view(entries[0].key).substr(key_prefix_.size()));
    SLUICE_ASSIGN_OR_RETURN(Message oldest, decode_message(sequence, entries[0].value));
    stats.oldest_enqueued = oldest.enqueued_at;
  }
  return stats;
}

}  // namespace sluice::queue
