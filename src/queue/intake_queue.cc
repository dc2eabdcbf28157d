#include "queue/intake_queue.h"

#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <iterator>
#include <random>
#include <unordered_set>

#include "core/logging.h"
#include "core/worker.h"
#include "storage/cluster.h"
#include "storage/key_encoding.h"

namespace sluice::queue {

using storage::Table;

namespace {

// Message keys of the lane layout carry this byte after the queue's name. Keys of the layout
// before lanes began with a big-endian sequence, whose first byte was 0.
constexpr char kLaneLayout = '\x01';
constexpr std::size_t kBatch = 10'000;  // entries read or moved at once
constexpr Micros kReadDepthEvery = 1'000'000;
constexpr std::uint64_t kForgetLanesEvery = 4096;  // lease calls
// Checks of one group that may meet an id another node accepted meanwhile. Each meeting needs a
// new commit elsewhere of one of the group's ids; a group that still meets one after this many
// is answered Unavailable (503, retry), never as if its ids were taken.
constexpr int kInsertAttempts = 8;

void append_partition(std::string& key, unsigned partition) {
  key.push_back(static_cast<char>(partition >> 8));
  key.push_back(static_cast<char>(partition & 0xff));
}

void append_lane(std::string& key, const Lane& lane) {
  storage::append_big_endian(key, static_cast<std::uint64_t>(lane.opened_at));
  storage::append_big_endian(key, lane.nonce);
}

Lane read_lane(std::string_view bytes) {
  return {static_cast<Micros>(storage::read_big_endian(bytes)),
          storage::read_big_endian(bytes.substr(8))};
}

Lane new_lane(const Clock& clock) {
  std::random_device random;
  const std::uint64_t nonce = (static_cast<std::uint64_t>(random()) << 32) | random();
  return {clock.now(), nonce};
}

}  // namespace

std::size_t AppendOutcome::accepted() const {
  return static_cast<std::size_t>(std::count(duplicate.begin(), duplicate.end(), false));
}

Result<std::unique_ptr<IntakeQueue>> IntakeQueue::open(storage::Backend& backend,
                                                       const Clock& clock, std::string name,
                                                       IntakeOptions options) {
  options.partitions = std::max(1u, options.partitions);
  std::unique_ptr<IntakeQueue> queue(new IntakeQueue(backend, clock, std::move(name), options));
  SLUICE_RETURN_IF_ERROR(queue->migrate());
  SLUICE_RETURN_IF_ERROR(queue->repartition());
  if (options.sole_writer) SLUICE_RETURN_IF_ERROR(queue->close_other_lanes());
  SLUICE_RETURN_IF_ERROR(queue->read_depth());
  IntakeQueue* started = queue.get();
  started->appender_.start("intake-append",
                           [started](const std::stop_token& stop) { started->run_appender(stop); });
  started->answerer_.start("intake-answer",
                           [started](const std::stop_token& stop) { started->run_answerer(stop); });
  return queue;
}

IntakeQueue::IntakeQueue(storage::Backend& backend, const Clock& clock, std::string name,
                         IntakeOptions options)
    : backend_(backend),
      clock_(clock),
      name_(std::move(name)),
      options_(std::move(options)),
      lane_(new_lane(clock)),
      depth_(0),
      key_prefix_(storage::key_prefix({name_}) + kLaneLayout),
      lanes_prefix_(storage::key_prefix({"queue", name_, "lane"})),
      depth_prefix_(storage::key_prefix({"queue", name_, "depth"})),
      count_([&] {
        std::string count;
        storage::append_big_endian(count, options_.partitions);
        return count;
      }()),
      count_key_(storage::key_prefix({"queue", name_}) + "partitions") {}

IntakeQueue::~IntakeQueue() { stop(); }

void IntakeQueue::stop() {
  // The appender commits everything accepted before it returns; only then may the answerer stop,
  // once it has answered every group written.
  appender_.stop();
  answerer_.stop();
  // The appender has returned: next_sequence_ is final.
  if (next_sequence_ == 1 || lane_closed_.exchange(true)) return;
  storage::Mutation mutation;
  put_lane(mutation, {lane_, next_sequence_, true, options_.writer});
  if (Status closed = backend_.commit(mutation); !closed.ok()) {
    spdlog::warn("queue {}: cannot close this node's lane: {}", name_, closed.to_string());
  }
}

std::string IntakeQueue::lane_prefix(unsigned partition, const Lane& lane) const {
  std::string key = key_prefix_;
  append_partition(key, partition);
  append_lane(key, lane);
  return key;
}

std::string IntakeQueue::message_key(const Position& position) const {
  std::string key = lane_prefix(position.partition, position.lane);
  storage::append_big_endian(key, position.sequence);
  return key;
}

std::string IntakeQueue::lane_key(const Lane& lane) const {
  std::string key = lanes_prefix_;
  append_lane(key, lane);
  return key;
}

std::string IntakeQueue::depth_key(unsigned partition) const {
  std::string key = depth_prefix_;
  append_partition(key, partition);
  return key;
}

std::string IntakeQueue::encode_lane(const LaneEntry& entry) {
  std::string value;
  storage::append_big_endian(value, entry.next_sequence);
  value.push_back(entry.closed ? '\x01' : '\0');
  value += entry.writer;
  return value;
}

void IntakeQueue::put_lane(storage::Mutation& mutation, const LaneEntry& entry) const {
  mutation.put(Table::kMeta, lane_key(entry.lane), encode_lane(entry));
}

Result<std::vector<IntakeQueue::LaneEntry>> IntakeQueue::read_lanes() {
  storage::ScanOptions scan;
  scan.prefix = lanes_prefix_;
  scan.limit = std::numeric_limits<std::size_t>::max();
  SLUICE_ASSIGN_OR_RETURN(auto entries, backend_.scan(Table::kMeta, scan));
  std::vector<LaneEntry> lanes;
  lanes.reserve(entries.size());
  for (const auto& entry : entries) {
    if (entry.key.size() != lanes_prefix_.size() + 16 || entry.value.size() < 9) {
      return corruption(fmt::format("queue {}: a lane's record is damaged", name_));
    }
    lanes.push_back({read_lane(std::string_view(entry.key).substr(lanes_prefix_.size())),
                     storage::read_big_endian(entry.value), entry.value[8] != '\0',
                     entry.value.substr(9)});
  }
  return lanes;
}

Status IntakeQueue::read_depth() {
  std::vector<std::string> keys;
  for (unsigned partition = 0; partition < options_.partitions; ++partition) {
    keys.push_back(depth_key(partition));
  }
  SLUICE_ASSIGN_OR_RETURN(auto counters, backend_.get_many(Table::kCounters, keys));
  std::int64_t depth = 0;
  for (const auto& counter : counters) {
    if (counter) depth += storage::decode_counter(*counter);
  }
  depth_ = depth;
  depth_read_at_ = clock_.now();
  return {};
}

Status IntakeQueue::migrate() {
  const std::string next_key = storage::key_prefix({"queue", name_}) + "next";
  SLUICE_ASSIGN_OR_RETURN(auto next, backend_.get(Table::kMeta, next_key));
  if (!next) return {};
  if (next->size() != 8)
    return corruption(fmt::format("queue {}: next sequence is damaged", name_));
  // The old messages keep their sequences in a lane of their own, older than any writer's.
  const LaneEntry legacy{Lane{0, 0}, storage::read_big_endian(*next), true};
  const std::string old_prefix = storage::key_prefix({name_});
  storage::ScanOptions scan;
  scan.prefix = old_prefix + '\0';
  scan.limit = kBatch;
  std::size_t moved = 0;
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(auto entries, backend_.scan(Table::kQueue, scan));
    storage::Mutation mutation;
    put_lane(mutation, legacy);
    for (const auto& entry : entries) {
      if (entry.key.size() != old_prefix.size() + 8) {
        return corruption(fmt::format("queue {}: malformed key", name_));
      }
      SLUICE_ASSIGN_OR_RETURN(Message message, decode_message({}, entry.value));
      const Position position{storage::partition_of(message.id, options_.partitions), legacy.lane,
                              storage::read_big_endian(entry.key.substr(old_prefix.size()))};
      mutation.put(Table::kQueue, message_key(position), entry.value);
      mutation.erase(Table::kQueue, entry.key);
      mutation.add(depth_key(position.partition), 1);
    }
    const bool last = entries.size() < scan.limit;
    if (last) {
      mutation.erase(Table::kMeta, next_key);  // done: this does not run again
      mutation.put(Table::kMeta, count_key_, count_);
    }
    // Each batch is whole: one cut short is read again from the old keys that remain.
    SLUICE_RETURN_IF_ERROR(backend_.commit(mutation));
    moved += entries.size();
    if (last) break;
  }
  if (moved > 0) spdlog::info("queue {}: moved {} waiting messages into lanes", name_, moved);
  return {};
}

Status IntakeQueue::repartition() {
  SLUICE_ASSIGN_OR_RETURN(auto stored, backend_.get(Table::kMeta, count_key_));
  count_recorded_ = stored == count_;
  // None recorded: no message was ever appended (the first append records it).
  if (!stored || count_recorded_) return {};
  storage::ScanOptions scan;
  scan.prefix = key_prefix_;
  scan.limit = kBatch;
  std::size_t moved = 0;
  // A message moved to a later partition is read again, and then stays where it is.
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(auto entries, backend_.scan(Table::kQueue, scan));
    storage::Mutation mutation;
    for (const auto& entry : entries) {
      if (entry.key.size() != key_prefix_.size() + 2 + 16 + 8) {
        return corruption(fmt::format("queue {}: malformed key", name_));
      }
      const std::string_view position_bytes =
          std::string_view(entry.key).substr(key_prefix_.size());
      const unsigned was = (static_cast<unsigned char>(position_bytes[0]) << 8) |
                           static_cast<unsigned char>(position_bytes[1]);
      SLUICE_ASSIGN_OR_RETURN(Message message, decode_message({}, entry.value));
      const Position position{storage::partition_of(message.id, options_.partitions),
                              read_lane(position_bytes.substr(2)),
                              storage::read_big_endian(position_bytes.substr(18))};
      if (position.partition == was) continue;
      mutation.put(Table::kQueue, message_key(position), entry.value);
      mutation.erase(Table::kQueue, entry.key);
      mutation.add(depth_key(was), -1);
      mutation.add(depth_key(position.partition), 1);
      ++moved;
    }
    if (!mutation.empty()) SLUICE_RETURN_IF_ERROR(backend_.commit(mutation));
    if (entries.size() < scan.limit) break;
    scan.after = entries.back().key;
  }
  storage::Mutation mutation;
  mutation.put(Table::kMeta, count_key_, count_);
  SLUICE_RETURN_IF_ERROR(backend_.commit(mutation));
  count_recorded_ = true;
  if (moved > 0) {
    spdlog::info("queue {}: moved {} waiting messages to their partitions among {}", name_, moved,
                 options_.partitions);
  }
  return {};
}

Status IntakeQueue::close_other_lanes() {
  SLUICE_ASSIGN_OR_RETURN(auto lanes, read_lanes());
  storage::Mutation mutation;
  for (auto& entry : lanes) {
    if (entry.closed) continue;
    entry.closed = true;
    put_lane(mutation, entry);
  }
  return mutation.empty() ? Status() : backend_.commit(mutation);
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
//
// Queues on other nodes that share storage may accept one of the group's ids between the check
// and the commit. So with shared storage the commit inserts each id (storage::Mutation::insert),
// fails whole if another took one first, and the group is checked again, that id now a
// duplicate: whichever node accepts an id, the others answer it as a duplicate.
IntakeQueue::WrittenGroup IntakeQueue::write_group(std::vector<PendingAppend>& group) {
  WrittenGroup written;
  for (auto& pending : group) written.done.push_back(std::move(pending.done));
  auto fail_all = [&](const Status& status) {
    written.answers.assign(group.size(), status);
    return std::move(written);
  };
  const std::string idempotency_prefix = storage::key_prefix({name_});
  std::vector<std::string> idempotency_keys;
  for (const auto& pending : group) {
    for (const auto& message : pending.messages) {
      idempotency_keys.push_back(idempotency_prefix + message.id);
    }
  }
  for (int attempt = 1;; ++attempt) {
    auto seen_before = backend_.get_many(Table::kIdempotency, idempotency_keys);
    if (!seen_before.ok()) return fail_all(seen_before.status());
    // Other nodes append and take too: the depth is what storage had a moment ago.
    if (clock_.now() - depth_read_at_ >= kReadDepthEvery) (void)read_depth();

    const Micros now = clock_.now();
    const std::uint64_t first_sequence = next_sequence_;
    std::uint64_t sequence = first_sequence;
    std::unordered_set<std::string_view> seen_in_group;
    std::vector<AppendOutcome> outcomes(group.size());
    std::vector<bool> over_bound(group.size(), false);
    std::vector<std::int64_t> added(options_.partitions, 0);
    storage::Mutation mutation;
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
      if (fresh > 0 && depth + queued + fresh > options_.max_depth) {
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
        if (options_.sole_writer) {
          mutation.put(Table::kIdempotency, idempotency_key, record);
        } else {
          mutation.insert(Table::kIdempotency, idempotency_key, record);
        }
        const Position position{storage::partition_of(message.id, options_.partitions), lane_,
                                sequence};
        mutation.put(Table::kQueue, message_key(position),
                     encode_message({position, message.id, now, message.body}));
        ++added[position.partition];
        ++sequence;
      }
    }

    if (sequence != first_sequence) {
      for (unsigned partition = 0; partition < options_.partitions; ++partition) {
        if (added[partition] > 0) mutation.add(depth_key(partition), added[partition]);
      }
      // In the same commit as the messages: a consumer that reads this finds them.
      put_lane(mutation, {lane_, sequence, false, options_.writer});
      if (!count_recorded_) mutation.put(Table::kMeta, count_key_, count_);
      auto ticket = backend_.apply(mutation);
      // Sequences are spent even by a failed commit: one whose outcome is unknown may have
      // landed, and its messages must never be overwritten (a gap costs nothing).
      next_sequence_ = sequence;
      if (!ticket.ok() && ticket.status().code() == StatusCode::kAlreadyExists) {
        id_conflicts_.fetch_add(1, std::memory_order_relaxed);
        if (attempt < kInsertAttempts) continue;
        return fail_all(unavailable(
            fmt::format("queue {}: other nodes kept accepting ids of this batch while it was "
                        "checked; try again",
                        name_)));
      }
      if (!ticket.ok()) return fail_all(ticket.status());
      written.ticket = *ticket;
      count_recorded_ = true;
      depth_ += static_cast<std::int64_t>(sequence - first_sequence);
      if (append_listener_) append_listener_();
    } else {
      // Nothing new, but duplicates are answered from what was read: that must be on disk too.
      written.ticket = backend_.applied();
    }
    for (size_t g = 0; g < group.size(); ++g) {
      if (over_bound[g]) {
        written.answers.push_back(resource_exhausted(
            fmt::format("queue {} holds {} events, its bound (queue.max_depth); try again later",
                        name_, depth)));
      } else {
        written.answers.push_back(std::move(outcomes[g]));
      }
    }
    return written;
  }
}

Result<std::vector<Message>> IntakeQueue::lease(std::size_t max, const PartitionFilter& wanted) {
  std::unique_lock lock(lease_mutex_);
  if (++leases_ % kForgetLanesEvery == 0) {
    lock.unlock();
    auto forgotten = forget_drained_lanes();
    if (!forgotten.ok()) spdlog::warn("queue {}: {}", name_, forgotten.status().to_string());
    lock.lock();
  }
  SLUICE_ASSIGN_OR_RETURN(auto lanes, read_lanes());
  std::vector<Message> leased;
  const unsigned first = next_partition_;
  next_partition_ = (next_partition_ + 1) % options_.partitions;
  for (unsigned i = 0; i < options_.partitions && leased.size() < max; ++i) {
    const unsigned partition = (first + i) % options_.partitions;
    if (wanted && !wanted(partition)) continue;
    for (const auto& entry : lanes) {
      if (leased.size() == max) break;
      if (Status status = lease_lane(entry, partition, max, leased); !status.ok()) {
        if (leased.empty()) return status;
        return leased;  // what is leased already is the caller's to take or give back
      }
    }
  }
  return leased;
}

Status IntakeQueue::lease_lane(const LaneEntry& entry, unsigned partition, std::size_t max,
                               std::vector<Message>& leased) {
  Cursor& cursor = cursors_[{partition, entry.lane}];
  if (cursor.exhausted_at == entry.next_sequence) return {};  // nothing new since
  const Position from{partition, entry.lane, cursor.lease_from};
  const Position end{partition, entry.lane, std::numeric_limits<std::uint64_t>::max()};
  storage::ScanOptions scan;
  scan.prefix = lane_prefix(partition, entry.lane);
  if (cursor.lease_from > 0) {
    scan.after = message_key({partition, entry.lane, cursor.lease_from - 1});
  }
  // Enough to skip every message already leased at or after lease_from; those below it are not
  // scanned. Usually none is (only a lease given back lowers lease_from).
  scan.limit = (max - leased.size()) + static_cast<std::size_t>(std::distance(
                                           leased_.lower_bound(from), leased_.lower_bound(end)));
  SLUICE_ASSIGN_OR_RETURN(auto entries, backend_.scan(Table::kQueue, scan));
  const std::size_t before = leased.size();
  bool full = false;
  for (const auto& stored : entries) {
    if (leased.size() == max) {
      full = true;
      break;
    }
    if (stored.key.size() != scan.prefix.size() + 8) {
      return corruption(fmt::format("queue {}: malformed key", name_));
    }
    const Position position{partition, entry.lane,
                            storage::read_big_endian(stored.key.substr(scan.prefix.size()))};
    if (leased_.contains(position)) continue;
    SLUICE_ASSIGN_OR_RETURN(Message message, decode_message(position, stored.value));
    leased_.insert(position);
    leased.push_back(std::move(message));
  }
  if (!full && entries.size() < scan.limit) cursor.exhausted_at = entry.next_sequence;
  if (leased.size() > before) {
    // Every message of the lane up to the last one leased is now leased or taken.
    cursor.lease_from = std::max(cursor.lease_from, leased.back().position.sequence + 1);
  }
  return {};
}

void IntakeQueue::take(storage::Mutation& mutation, const Message& message) const {
  mutation.erase(Table::kQueue, message_key(message.position));
  mutation.add(depth_key(message.position.partition), -1);
  // Only the node that holds the partition may take its messages.
  if (!mutation.fence()) mutation.fence_by(message.position.partition);
}

void IntakeQueue::settle(std::span<const Position> positions, bool taken) {
  std::lock_guard lock(lease_mutex_);
  for (const Position& position : positions) {
    leased_.erase(position);
    if (!taken) {
      Cursor& cursor = cursors_[{position.partition, position.lane}];
      cursor.lease_from = std::min(cursor.lease_from, position.sequence);
      cursor.exhausted_at = 0;  // look again
    }
  }
  if (taken) depth_ -= static_cast<std::int64_t>(positions.size());
}

Result<QueueStats> IntakeQueue::stats() {
  QueueStats stats;
  std::vector<std::string> keys;
  for (unsigned partition = 0; partition < options_.partitions; ++partition) {
    keys.push_back(depth_key(partition));
  }
  SLUICE_ASSIGN_OR_RETURN(auto counters, backend_.get_many(Table::kCounters, keys));
  for (const auto& counter : counters) {
    if (counter) stats.depth += storage::decode_counter(*counter);
  }
  SLUICE_ASSIGN_OR_RETURN(auto lanes, read_lanes());
  stats.lanes = lanes.size();
  for (unsigned partition = 0; partition < options_.partitions; ++partition) {
    for (const auto& entry : lanes) {
      storage::ScanOptions scan;
      scan.prefix = lane_prefix(partition, entry.lane);
      scan.limit = 1;
      {
        std::lock_guard lock(lease_mutex_);
        // Below the first lease (or lease_from) everything has been taken: start there so the
        // scan does not walk over deleted messages.
        const auto found = cursors_.find({partition, entry.lane});
        std::uint64_t oldest_possible = found == cursors_.end() ? 0 : found->second.lease_from;
        const auto first_leased = leased_.lower_bound({partition, entry.lane, 0});
        if (first_leased != leased_.end() && first_leased->partition == partition &&
            first_leased->lane == entry.lane) {
          oldest_possible = std::min(oldest_possible, first_leased->sequence);
        }
        if (oldest_possible > 0) {
          scan.after = message_key({partition, entry.lane, oldest_possible - 1});
        }
      }
      SLUICE_ASSIGN_OR_RETURN(auto first, backend_.scan(Table::kQueue, scan));
      if (first.empty()) continue;
      SLUICE_ASSIGN_OR_RETURN(Message oldest, decode_message({}, first[0].value));
      if (!stats.oldest_enqueued || oldest.enqueued_at < *stats.oldest_enqueued) {
        stats.oldest_enqueued = oldest.enqueued_at;
      }
      break;  // later lanes were opened later: their messages are younger
    }
  }
  std::lock_guard lock(lease_mutex_);
  stats.in_flight = leased_.size();
  return stats;
}

Result<std::size_t> IntakeQueue::close_lanes_of(
    const std::function<bool(std::string_view writer)>& gone) {
  SLUICE_ASSIGN_OR_RETURN(auto lanes, read_lanes());
  std::size_t closed = 0;
  for (auto& entry : lanes) {
    if (entry.closed || entry.writer.empty() || entry.lane == lane_ || !gone(entry.writer)) {
      continue;
    }
    // Closed as read: its next sequence stays right, since a writer that appends meanwhile
    // changes the record and fails this commit.
    storage::Mutation mutation;
    mutation.expect(Table::kMeta, lane_key(entry.lane), encode_lane(entry));
    entry.closed = true;
    put_lane(mutation, entry);
    if (Status status = backend_.commit(mutation); !status.ok()) {
      if (status.code() == StatusCode::kFailedPrecondition) continue;
      return status;
    }
    ++closed;
  }
  return closed;
}

Result<std::size_t> IntakeQueue::forget_drained_lanes() {
  SLUICE_ASSIGN_OR_RETURN(auto lanes, read_lanes());
  std::size_t forgotten = 0;
  for (const auto& entry : lanes) {
    // A closed lane gains no message any more; an open one may at any moment.
    if (!entry.closed) continue;
    bool drained = true;
    for (unsigned partition = 0; partition < options_.partitions && drained; ++partition) {
      storage::ScanOptions scan;
      scan.prefix = lane_prefix(partition, entry.lane);
      scan.limit = 1;
      SLUICE_ASSIGN_OR_RETURN(auto left, backend_.scan(Table::kQueue, scan));
      drained = left.empty();
    }
    if (!drained) continue;
    // Unless its writer appended since the lane was read (a writer another node closed the lane
    // of, that was paused rather than gone): then it holds messages again. A sole writer's
    // closed lanes have no writer left.
    storage::Mutation mutation;
    if (!options_.sole_writer) {
      mutation.expect(Table::kMeta, lane_key(entry.lane), encode_lane(entry));
    }
    mutation.erase(Table::kMeta, lane_key(entry.lane));
    if (Status erased = backend_.commit(mutation); !erased.ok()) {
      if (erased.code() == StatusCode::kFailedPrecondition) continue;
      return erased;
    }
    ++forgotten;
    std::lock_guard lock(lease_mutex_);
    std::erase_if(cursors_,
                  [&entry](const auto& cursor) { return cursor.first.second == entry.lane; });
  }
  return forgotten;
}

}  // namespace sluice::queue
