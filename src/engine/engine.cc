#include "engine/engine.h"

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <shared_mutex>

#include "core/logging.h"
#include "storage/cluster.h"
#include "storage/key_encoding.h"

namespace sluice::engine {

using storage::Table;

namespace {

template <typename Call>
Status wait_for(Call call) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  call([&promise](Status status) { promise.set_value(std::move(status)); });
  return future.get();
}

}  // namespace

Engine::Engine(storage::Backend& backend, const Clock& clock, const Registry& registry,
               EngineOptions options)
    : backend_(backend),
      clock_(clock),
      registry_(registry),
      ids_(clock),
      activities_(registry, clock, options.activity_workers),
      partitions_(std::max(1u, options.partitions)),
      retention_(options.retention) {
  partition_options_.max_active_instances =
      std::max<std::size_t>(1, options.max_active_instances / partitions_.size());
  partition_options_.on_finished = options.on_finished;
}

Engine::~Engine() { stop(); }

Status Engine::start() {
  std::vector<unsigned> all(partitions_.size());
  for (unsigned i = 0; i < all.size(); ++i) all[i] = i;
  SLUICE_RETURN_IF_ERROR(take(all));
  sweep();
  return {};
}

void Engine::sweep() {
  if (retention_ > 0) {
    retention_sweeper_.start("retention", [this](const std::stop_token& stop) {
      std::mutex mutex;  // the sweeper waits for nothing but a minute or a stop
      std::condition_variable stopped;
      const WakeOnStop wake_on_stop(stop, mutex, stopped);
      // Declared after wake_on_stop, so released before it: its destructor waits for a wake-up
      // that is running, and that wake-up takes this lock.
      std::unique_lock lock(mutex);
      while (!stopped.wait_for(lock, std::chrono::minutes(1),
                               [&stop] { return stop.stop_requested(); })) {
        auto purged = purge_expired();
        if (!purged.ok()) spdlog::warn("retention sweep failed: {}", purged.status().to_string());
      }
    });
  }
}

void Engine::stop() {
  retention_sweeper_.stop();
  // Workers first: what they finish has nowhere to go once the partitions have stopped.
  activities_.stop();
  std::vector<unsigned> all(partitions_.size());
  for (unsigned i = 0; i < all.size(); ++i) all[i] = i;
  give_up(all);
}

Status Engine::take(std::span<const unsigned> wanted) {
  std::vector<unsigned> taking;
  {
    // In their slots before they recover: the results of the activities that recovery
    // dispatches, and any other input, wait in their inboxes until they start.
    std::unique_lock lock(partitions_mutex_);
    for (unsigned index : wanted) {
      if (partitions_.at(index)) continue;
      PartitionOptions options = partition_options_;
      options.index = index;
      partitions_[index] = std::make_unique<Partition>(
          backend_, clock_, registry_, activities_,
          [this](PartitionInput input) { submit(std::move(input)); }, options);
      taking.push_back(index);
    }
  }
  // Only this thread replaces these slots' partitions; other threads only read them.
  std::vector<std::vector<std::string>> ids(partitions_.size());
  std::vector<bool> is_taking(partitions_.size(), false);
  for (unsigned index : taking) is_taking[index] = true;
  Status recovered;
  storage::ScanOptions scan;
  scan.limit = 10'000;
  while (recovered.ok()) {
    auto entries = backend_.scan(Table::kActive, scan);
    if (!entries.ok()) {
      recovered = entries.status();
      break;
    }
    for (const auto& entry : *entries) {
      const unsigned index = partition_of(entry.key);
      if (is_taking[index]) ids[index].push_back(entry.key);
    }
    if (entries->size() < scan.limit) break;
    scan.after = entries->back().key;
  }
  for (unsigned index : taking) {
    if (recovered.ok()) recovered = partitions_[index]->recover(ids[index]);
  }
  if (!recovered.ok()) {
    give_up(taking);
    return recovered;
  }
  for (unsigned index : taking) partitions_[index]->start();
  return {};
}

void Engine::give_up(std::span<const unsigned> partitions) {
  std::vector<std::unique_ptr<Partition>> stopping;
  {
    std::unique_lock lock(partitions_mutex_);
    for (unsigned index : partitions) {
      if (!partitions_.at(index)) continue;
      stopped_commit_failures_ += partitions_[index]->commit_failures();
      stopping.push_back(std::move(partitions_[index]));
    }
  }
  // Each finishes its turn under way and answers what it had not taken.
  for (auto& partition : stopping) partition->stop();
}

unsigned Engine::partition_of(std::string_view instance_id) const {
  return storage::partition_of(instance_id, static_cast<unsigned>(partitions_.size()));
}

std::string Engine::new_instance_id() {
  std::string id = ids_.next();
  // A node runs its share of the partitions: a few tries find one of them.
  for (int tries = 0; tries < 64 && !runs(partition_of(id)); ++tries) id = ids_.next();
  return id;
}

bool Engine::runs(unsigned partition) const {
  std::shared_lock lock(partitions_mutex_);
  return partitions_.at(partition) != nullptr;
}

void Engine::submit(PartitionInput input) {
  const unsigned index = partition_of(input.instance_id);
  {
    std::shared_lock lock(partitions_mutex_);
    if (Partition* partition = partitions_[index].get()) {
      // A partition in its slot is not stopping: this only queues the input.
      partition->submit(std::move(input));
      return;
    }
  }
  if (input.reply) {
    input.reply(unavailable(
        fmt::format("instance {} belongs to partition {}, which does not run on this node now",
                    input.instance_id, index)));
  }
}

void Engine::start_instance(StartRequest request, Reply reply, storage::Mutation effects,
                            std::vector<Expectation> expected) {
  PartitionInput input;
  input.kind = PartitionInput::Kind::kStart;
  input.effects = std::move(effects);
  input.expected = std::move(expected);
  input.instance_id = request.instance_id;
  input.start = std::move(request);
  input.reply = std::move(reply);
  submit(std::move(input));
}

void Engine::send_event(std::string instance_id, HistoryEvent event, Reply reply) {
  event.timestamp = clock_.now();
  PartitionInput input;
  input.instance_id = std::move(instance_id);
  input.event = std::move(event);
  input.reply = std::move(reply);
  submit(std::move(input));
}

void Engine::raise_event(std::string instance_id, std::string name, std::string data, Reply reply) {
  send_event(std::move(instance_id),
             {EventType::kEventRaised, 0, -1, std::move(name), std::move(data), 0},
             std::move(reply));
}

void Engine::terminate(std::string instance_id, std::string reason, Reply reply) {
  send_event(std::move(instance_id),
             {EventType::kExecutionTerminated, 0, -1, "", std::move(reason), 0}, std::move(reply));
}

void Engine::suspend(std::string instance_id, std::string reason, Reply reply) {
  send_event(std::move(instance_id),
             {EventType::kExecutionSuspended, 0, -1, "", std::move(reason), 0}, std::move(reply));
}

void Engine::resume(std::string instance_id, std::string reason, Reply reply) {
  send_event(std::move(instance_id),
             {EventType::kExecutionResumed, 0, -1, "", std::move(reason), 0}, std::move(reply));
}

void Engine::commit_if(std::string instance_id, std::vector<Expectation> expected,
                       storage::Mutation effects, Reply reply) {
  PartitionInput input;
  input.kind = PartitionInput::Kind::kCommit;
  input.instance_id = std::move(instance_id);
  input.expected = std::move(expected);
  input.effects = std::move(effects);
  input.reply = std::move(reply);
  submit(std::move(input));
}

void Engine::purge(std::string instance_id, Reply reply) {
  PartitionInput input;
  input.kind = PartitionInput::Kind::kPurge;
  input.instance_id = std::move(instance_id);
  input.reply = std::move(reply);
  submit(std::move(input));
}

Status Engine::start_instance_and_wait(StartRequest request) {
  return wait_for([&](Reply reply) { start_instance(std::move(request), std::move(reply)); });
}

Status Engine::raise_event_and_wait(std::string instance_id, std::string name, std::string data) {
  return wait_for([&](Reply reply) {
    raise_event(std::move(instance_id), std::move(name), std::move(data), std::move(reply));
  });
}

Status Engine::terminate_and_wait(std::string instance_id, std::string reason) {
  return wait_for(
      [&](Reply reply) { terminate(std::move(instance_id), std::move(reason), std::move(reply)); });
}

Result<std::optional<InstanceRecord>> Engine::instance(const std::string& instance_id,
                                                       bool with_input) {
  SLUICE_ASSIGN_OR_RETURN(auto stored, backend_.get(Table::kInstances, instance_id));
  if (!stored) return std::optional<InstanceRecord>();
  SLUICE_ASSIGN_OR_RETURN(InstanceRecord record, decode_record(instance_id, *stored));
  if (with_input && record.input.empty()) {
    std::vector<HistoryEvent> events;
    if (!record.history.empty()) {
      SLUICE_RETURN_IF_ERROR(decode_events(record.history, events));
    } else if (record.history_chunks > 0) {
      SLUICE_ASSIGN_OR_RETURN(auto first,
                              backend_.get(Table::kHistory, history_key(instance_id, 0)));
      if (first) SLUICE_RETURN_IF_ERROR(decode_events(*first, events));
    }
    record.input = run_input(events);
  }
  record.history.clear();
  return std::optional<InstanceRecord>(std::move(record));
}

Result<std::vector<HistoryEvent>> Engine::history(const std::string& instance_id) {
  std::vector<HistoryEvent> events;
  SLUICE_ASSIGN_OR_RETURN(auto stored, backend_.get(Table::kInstances, instance_id));
  if (stored) {
    SLUICE_ASSIGN_OR_RETURN(InstanceRecord record, decode_record(instance_id, *stored));
    if (!record.history.empty()) {
      SLUICE_RETURN_IF_ERROR(decode_events(record.history, events));
      return events;
    }
  }
  storage::ScanOptions scan;
  scan.prefix = history_prefix(instance_id);
  scan.limit = std::numeric_limits<std::size_t>::max();
  SLUICE_ASSIGN_OR_RETURN(auto chunks, backend_.scan(Table::kHistory, scan));
  for (const auto& chunk : chunks) SLUICE_RETURN_IF_ERROR(decode_events(chunk.value, events));
  return events;
}

Result<QueryPage> Engine::query(const InstanceQuery& query) {
  constexpr std::size_t kRecordsPerCall = 10'000;
  storage::ScanOptions scan;
  scan.prefix = query.id_prefix;
  scan.after = query.continuation;
  scan.limit = std::min(kRecordsPerCall, std::max<std::size_t>(query.top, 1) * 4);
  QueryPage page;
  std::size_t examined = 0;
  while (page.records.size() < query.top && examined < kRecordsPerCall) {
    SLUICE_ASSIGN_OR_RETURN(auto entries, backend_.scan(Table::kInstances, scan));
    for (const auto& entry : entries) {
      ++examined;
      page.continuation = entry.key;
      SLUICE_ASSIGN_OR_RETURN(InstanceRecord record, decode_record(entry.key, entry.value));
      const bool status_matches =
          query.statuses.empty() || std::find(query.statuses.begin(), query.statuses.end(),
                                              record.status) != query.statuses.end();
      const bool finished_matches =
          !query.finished_before ||
          (is_terminal(record.status) && record.updated_at < *query.finished_before);
      if (status_matches && finished_matches &&
          (!query.created_from || record.created_at >= *query.created_from) &&
          (!query.created_to || record.created_at < *query.created_to)) {
        record.history.clear();
        page.records.push_back(std::move(record));
        if (page.records.size() == query.top) break;
      }
    }
    if (entries.size() < scan.limit && page.records.size() < query.top) {
      page.continuation.reset();  // reached the end
      return page;
    }
    scan.after = page.continuation;
  }
  return page;
}

Result<std::size_t> Engine::purge_matching(InstanceQuery query) {
  query.top = 1000;
  query.continuation.reset();
  std::size_t purged = 0;
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(QueryPage page, this->query(query));
    for (const auto& record : page.records) {
      if (!is_terminal(record.status) || !runs(partition_of(record.instance_id))) continue;
      const Status status =
          wait_for([&](Reply reply) { purge(record.instance_id, std::move(reply)); });
      if (status.ok()) {
        ++purged;
      } else if (status.code() != StatusCode::kNotFound &&
                 status.code() != StatusCode::kFailedPrecondition) {
        return status;  // not a race with another purge or a restart: a real failure
      }
    }
    if (!page.continuation) return purged;
    query.continuation = page.continuation;
  }
}

Result<std::size_t> Engine::purge_expired() {
  if (retention_ <= 0) return std::size_t{0};
  InstanceQuery expired;
  expired.finished_before = clock_.now() - retention_;
  return purge_matching(std::move(expired));
}

void Engine::wake() {
  std::shared_lock lock(partitions_mutex_);
  for (auto& partition : partitions_) {
    if (partition) partition->wake();
  }
}

std::size_t Engine::active_instances() const {
  std::shared_lock lock(partitions_mutex_);
  std::size_t total = 0;
  for (const auto& partition : partitions_) {
    if (partition) total += partition->active_instances();
  }
  return total;
}

std::uint64_t Engine::commit_failures() const {
  std::shared_lock lock(partitions_mutex_);
  std::uint64_t total = stopped_commit_failures_;
  for (const auto& partition : partitions_) {
    if (partition) total += partition->commit_failures();
  }
  return total;
}

}  // namespace sluice::engine
