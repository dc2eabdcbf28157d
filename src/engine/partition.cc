#include "engine/partition.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "core/logging.h"
#include "core/worker.h"
#include "storage/key_encoding.h"

namespace sluice::engine {

using storage::Table;

namespace {
// A run that continues as new more often than this within one turn is failed rather than
// allowed to spin.
constexpr int kMaxContinuationsPerTurn = 100;
// Local activities one instance may run in one turn; more wait for the worker pool, so that an
// orchestrator calling them in a loop cannot hold the partition.
constexpr unsigned kMaxLocalActivitiesPerStep = 64;
}  // namespace

std::string history_prefix(std::string_view instance_id) {
  return storage::key_prefix({instance_id});
}

std::string history_key(std::string_view instance_id, std::uint32_t chunk) {
  std::string key = history_prefix(instance_id);
  key.push_back(static_cast<char>(chunk >> 24));
  key.push_back(static_cast<char>(chunk >> 16));
  key.push_back(static_cast<char>(chunk >> 8));
  key.push_back(static_cast<char>(chunk));
  return key;
}

Partition::Partition(storage::Backend& backend, const Clock& clock, const Registry& registry,
                     ActivityPool& activities, Router router, PartitionOptions options)
    : backend_(backend),
      clock_(clock),
      registry_(registry),
      activities_(activities),
      router_(std::move(router)),
      options_(options) {}

Partition::~Partition() { stop(); }

void Partition::start() {
  worker_.start("partition", [this](const std::stop_token& stop) { run(stop); });
}

void Partition::stop() {
  // A submit() that saw no stop request under mutex_ queued its input before the drain below
  // takes mutex_; one that comes later sees the request and refuses.
  worker_.stop();
  // Whatever was still queued is answered, so that no caller waits for ever.
  std::vector<PartitionInput> unanswered;
  {
    std::lock_guard lock(mutex_);
    unanswered.swap(inbox_);
  }
  for (auto& input : unanswered) {
    if (input.reply) input.reply(unavailable("the engine stopped"));
  }
}

void Partition::submit(PartitionInput input) {
  {
    std::lock_guard lock(mutex_);
    if (!worker_.stop_requested()) {
      inbox_.push_back(std::move(input));
      if (inbox_.size() == 1) ready_.notify_one();
      return;
    }
  }
  if (input.reply) input.reply(unavailable("the engine is stopping"));
}

void Partition::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  ready_.notify_one();
}

std::size_t Partition::active_instances() const { return active_count_.load(); }

void Partition::run(const std::stop_token& stop) {
  const WakeOnStop wake_on_stop(stop, mutex_, ready_);
  std::vector<PartitionInput> inputs;
  while (true) {
    if (!unloaded_.empty() && !reload_unloaded()) {
      back_off(stop);
      if (stop.stop_requested()) return;
      continue;
    }
    {
      std::unique_lock lock(mutex_);
      auto awake = [this, &stop] {
        return stop.stop_requested() || !inbox_.empty() || woken_ ||
               (!timers_.empty() && timers_.begin()->first <= clock_.now());
      };
      while (!awake()) {
        if (timers_.empty()) {
          ready_.wait(lock, awake);
        } else {
          // Sleep until the next timer is due (a test that moves a clock by hand calls wake()),
          // but look again every second: the wait runs on the steady clock and timers on the
          // wall clock, which may be stepped forward.
          const Micros wait =
              std::clamp<Micros>(timers_.begin()->first - clock_.now(), 1000, 1'000'000);
          ready_.wait_for(lock, std::chrono::microseconds(wait), awake);
        }
      }
      if (stop.stop_requested()) return;
      woken_ = false;
      if (inbox_.size() <= options_.max_batch_inputs) {
        inputs.swap(inbox_);
      } else {
        auto end = inbox_.begin() + static_cast<std::ptrdiff_t>(options_.max_batch_inputs);
        inputs.assign(std::make_move_iterator(inbox_.begin()), std::make_move_iterator(end));
        inbox_.erase(inbox_.begin(), end);
      }
    }
    take_turn(inputs);
    inputs.clear();
    if (failed_commits_ > 0) back_off(stop);  // storage refuses (a full disk, a lost database)
  }
}

void Partition::back_off(const std::stop_token& stop) {
  const auto backoff = std::chrono::milliseconds(
      std::min<std::int64_t>(2000, 10ll << std::min(std::max(failed_commits_, 1u) - 1, 8u)));
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, backoff, [&stop] { return stop.stop_requested(); });
}

bool Partition::reload_unloaded() {
  while (!unloaded_.empty()) {
    const auto [id, turn] = unloaded_.back();
    auto reloaded = load(id);
    if (!reloaded.ok()) {
      if (failed_commits_++ % 100 == 0) {
        spdlog::error("partition cannot read back instance {}: {}", id,
                      reloaded.status().to_string());
      }
      return false;
    }
    std::unique_ptr<Instance> instance = std::move(*reloaded);
    unloaded_.pop_back();
    // Absent: a start whose commit did not land (its requester was told it failed).
    if (!instance) continue;
    if (instance->runner->finished()) {
      // Written by the failed turn: its commit landed after all, and the instance ends now as it
      // would have then. Otherwise it is the earlier run a refused replacing start left.
      if (instance->record.updated_at == turn) {
        notify_parent(instance->record);
        if (options_.on_finished) options_.on_finished(instance->record);
      }
      continue;
    }
    auto pending = instance->runner->pending_work();
    instances_.emplace(id, std::move(instance));
    carry_out(id, pending);
  }
  active_count_ = instances_.size();
  return true;
}

void Partition::collect_due_timers(std::vector<PartitionInput>& inputs, Micros now) {
  while (!timers_.empty() && timers_.begin()->first <= now) {
    auto [fire_at, target] = *timers_.begin();
    timers_.erase(timers_.begin());
    PartitionInput input;
    input.instance_id = std::move(target.first);
    input.event = {EventType::kTimerFired, now, target.second, "", "", fire_at};
    inputs.push_back(std::move(input));
  }
}

Partition::Step& Partition::step_for(Instance& instance, Steps& steps, Micros now) {
  if (instance.step == kNoStep) {
    instance.step = steps.size();
    steps.push_back(Step{&instance});
    // Room for a usual step (a start, a fan-out of a few calls, their results and the end)
    // without growing and moving the events several times.
    steps.back().history.reserve(16);
    // Every step opens with the time the orchestrator sees as now() during it.
    HistoryEvent started{EventType::kOrchestratorStarted, now, -1, "", "", 0};
    instance.runner->apply(started, false);
    steps.back().history.push_back(std::move(started));
  }
  return steps[instance.step];
}

Partition::StoredRecords Partition::read_started(const std::vector<PartitionInput>& inputs) {
  std::vector<std::string_view> started;  // views of the inputs' ids, which outlive the map
  std::vector<std::string> ids;
  for (const auto& input : inputs) {
    if (input.kind == PartitionInput::Kind::kStart && !instances_.contains(input.instance_id)) {
      started.push_back(input.instance_id);
      ids.push_back(input.instance_id);
    }
  }
  StoredRecords stored;
  if (ids.empty()) return stored;
  auto records = backend_.get_many(Table::kInstances, ids);
  if (!records.ok()) return stored;
  for (std::size_t i = 0; i < ids.size(); ++i) stored.emplace(started[i], std::move((*records)[i]));
  return stored;
}

Status Partition::start_instance(PartitionInput& input, const StoredRecords& stored_records,
                                 Steps& steps, Micros now, storage::Mutation& effects) {
  const std::string& id = input.instance_id;
  const bool child = input.start.parent_task >= 0;
  // Whether `record` is the very child this start asks for (and not another instance that
  // happens to have its id).
  auto same_child = [&input](const InstanceRecord& record) {
    return record.parent_id == input.start.parent_id &&
           record.parent_task == input.start.parent_task;
  };
  if (auto running = instances_.find(id); running != instances_.end()) {
    // A parent restarted and asked again: the running child reports when it finishes.
    if (child && same_child(running->second->record)) {
      effects.absorb(std::move(input.effects));
      return {};
    }
    return {StatusCode::kAlreadyExists, fmt::format("instance {} exists and has not finished", id)};
  }
  if (instances_.size() >= options_.max_active_instances) {
    return resource_exhausted(
        fmt::format("{} instances are running; try again later", instances_.size()));
  }
  std::optional<std::string> stored;
  if (auto known = stored_records.find(id); known != stored_records.end()) {
    stored = known->second;
  } else {
    SLUICE_ASSIGN_OR_RETURN(stored, backend_.get(Table::kInstances, id));
  }
  std::uint32_t replaced_chunks = 0;
  std::int64_t first_task_id = 0;
  if (stored) {
    SLUICE_ASSIGN_OR_RETURN(InstanceRecord previous, decode_record(id, *stored));
    if (child && same_child(previous) && is_terminal(previous.status)) {
      // The child finished before its parent recorded the result: tell it again.
      notify_parent(previous);
      effects.absorb(std::move(input.effects));
      return {};
    }
    if (!is_terminal(previous.status) || !input.start.replace_finished) {
      return {StatusCode::kAlreadyExists,
              fmt::format("instance {} exists ({}); ask to replace a finished one explicitly", id,
                          runtime_status_name(previous.status))};
    }
    replaced_chunks = previous.history_chunks;
    first_task_id = previous.next_task_id;
  }

  auto instance = std::make_unique<Instance>();
  instance->runner = std::make_unique<OrchestrationRunner>(id, registry_);
  instance->record.instance_id = id;
  instance->record.name = input.start.name;
  instance->record.status = RuntimeStatus::kRunning;
  instance->record.input = input.start.input;
  instance->record.created_at = now;
  instance->record.updated_at = now;
  instance->record.parent_id = input.start.parent_id;
  instance->record.parent_task = input.start.parent_task;
  Instance& placed = *instances_.emplace(id, std::move(instance)).first->second;
  // The starter's effects go first: what the run's local activities write comes after them (a
  // dead-letter replay erases the old record; the run may dead-letter the event again).
  effects.absorb(std::move(input.effects));
  Step& step = step_for(placed, steps, now);
  step.created = true;
  step.fresh = true;
  step.replaced_chunks = replaced_chunks;
  run_event(
      step,
      {EventType::kExecutionStarted, now, first_task_id, input.start.name, input.start.input, 0},
      effects);
  return {};
}

void Partition::record(Step& step, HistoryEvent event) {
  OrchestrationRunner& runner = *step.instance->runner;
  runner.apply(event, false);
  step.history.push_back(std::move(event));
  for (auto& produced : runner.take_new_events()) step.history.push_back(std::move(produced));
}

void Partition::run_local_activities(Step& step, std::size_t from, storage::Mutation& effects) {
  // Results recorded here may schedule more; the loop reaches them as the history grows.
  for (std::size_t i = from; i < step.history.size(); ++i) {
    const HistoryEvent& scheduled = step.history[i];
    if (scheduled.type != EventType::kTaskScheduled) continue;
    const ActivityFunction* local = registry_.local_activity(scheduled.name);
    if (local == nullptr || step.local_runs == kMaxLocalActivitiesPerStep ||
        !step.instance->runner->is_waiting_on(scheduled.task_id)) {
      continue;  // dispatched to the worker pool once the turn has committed
    }
    ++step.local_runs;
    record(step, run_local_activity(*local, step.instance->record.instance_id, scheduled,
                                    step.history.front().timestamp, effects));
  }
}

void Partition::run_event(Step& step, HistoryEvent event, storage::Mutation& effects) {
  Instance& instance = *step.instance;
  const std::size_t from = step.history.size();
  record(step, std::move(event));
  run_local_activities(step, from, effects);
  // continue_as_new: the run ends and a new one starts with a fresh history.
  for (int round = 0; instance.runner->finished() && instance.runner->next_input(); ++round) {
    const std::string next_input = *instance.runner->next_input();
    const Micros now = step.history.front().timestamp;
    if (!step.fresh) step.replaced_chunks = instance.record.history_chunks;
    step.fresh = true;
    step.history.clear();
    instance.record.input = next_input;
    const std::int64_t first_task_id = instance.runner->next_task_id();
    instance.runner = std::make_unique<OrchestrationRunner>(instance.record.instance_id, registry_);
    HistoryEvent started{EventType::kOrchestratorStarted, now, -1, "", "", 0};
    HistoryEvent execution{EventType::kExecutionStarted, now,        first_task_id,
                           instance.record.name,         next_input, 0};
    if (round == kMaxContinuationsPerTurn) {
      execution.name = "";  // no orchestrator has an empty name: the new run fails at once
    }
    record(step, std::move(started));
    record(step, std::move(execution));
    run_local_activities(step, 0, effects);
  }
}

void Partition::write_step(Step& step, Micros now, storage::Mutation& mutation) {
  const std::string& id = step.instance->record.instance_id;
  InstanceRecord& record = step.instance->record;
  const OrchestrationRunner& runner = *step.instance->runner;
  record.status = runner.status();
  record.output = runner.output();
  record.custom_status = runner.custom_status();
  record.updated_at = now;
  record.next_task_id = runner.next_task_id();
  std::uint32_t chunk = record.history_chunks;
  if (step.fresh) {
    for (std::uint32_t old = 0; old < step.replaced_chunks; ++old) {
      mutation.erase(Table::kHistory, history_key(id, old));
    }
    chunk = 0;
  }
  std::string encoded;
  encode_events(step.history, encoded);
  if (step.fresh && runner.finished()) {
    // The whole run is this step: its history goes in the record, one key instead of two.
    record.history_chunks = 0;
    record.history = std::move(encoded);
  } else {
    record.history_chunks = chunk + 1;
    mutation.put(Table::kHistory, history_key(id, chunk), encoded);
  }
  mutation.put(Table::kInstances, id, encode_record(record));
  record.history.clear();  // stored; whoever hears of the end has no use for it
  if (runner.finished()) {
    if (!step.created) mutation.erase(Table::kActive, id);
  } else if (step.created) {
    mutation.put(Table::kActive, id, "");
  }
}

std::vector<PendingWork> Partition::work_from(const std::vector<HistoryEvent>& history,
                                              const OrchestrationRunner& runner) {
  std::vector<PendingWork> work;
  for (const auto& event : history) {
    // What a local activity already answered in the same step is not work any more.
    if ((event.type == EventType::kTaskScheduled || event.type == EventType::kTimerCreated ||
         event.type == EventType::kSubOrchestrationCreated) &&
        runner.is_waiting_on(event.task_id)) {
      work.push_back(
          {event.type, event.task_id, event.name, event.data, event.fire_at, event.instance});
    }
  }
  return work;
}

void Partition::notify_parent(const InstanceRecord& child) {
  if (child.parent_task < 0 || !is_terminal(child.status)) return;
  PartitionInput input;
  input.instance_id = child.parent_id;
  input.event.timestamp = clock_.now();
  input.event.task_id = child.parent_task;
  input.event.data = child.output;
  if (child.status == RuntimeStatus::kCompleted) {
    input.event.type = EventType::kSubOrchestrationCompleted;
  } else {
    input.event.type = EventType::kSubOrchestrationFailed;
    input.event.name =
        child.status == RuntimeStatus::kTerminated ? "Terminated" : "SubOrchestrationFailed";
  }
  router_(std::move(input));
}

void Partition::carry_out(const std::string& id, const std::vector<PendingWork>& work) {
  for (const auto& item : work) {
    if (item.type == EventType::kTimerCreated) {
      timers_.emplace(item.fire_at, std::make_pair(id, item.task_id));
      continue;
    }
    if (item.type == EventType::kSubOrchestrationCreated) {
      PartitionInput start;
      start.kind = PartitionInput::Kind::kStart;
      start.instance_id = item.instance;
      start.start.name = item.name;
      start.start.instance_id = item.instance;
      start.start.input = item.input;
      start.start.parent_id = id;
      start.start.parent_task = item.task_id;
      router_(std::move(start));
      continue;
    }
    // The result travels through a copy of the router: this partition may be given up, and
    // gone, by the time the activity ends.
    activities_.submit({id, item.task_id, item.name, item.input},
                       [router = router_](const std::string& instance_id, HistoryEvent result,
                                          storage::Mutation effects) {
                         PartitionInput input;
                         input.instance_id = instance_id;
                         input.event = std::move(result);
                         input.effects = std::move(effects);
                         router(std::move(input));
                       });
  }
}

void Partition::take_turn(std::vector<PartitionInput>& inputs) {
  const Micros now = clock_.now();
  collect_due_timers(inputs, now);

  Steps steps;
  steps.reserve(inputs.size());
  std::vector<std::pair<Reply, Status>> replies;
  storage::Mutation mutation;
  std::set<std::pair<Table, std::string>> rested_on;  // keys of this turn's expectations
  const StoredRecords started = read_started(inputs);

  for (auto& input : inputs) {
    Status status;
    if (!input.expected.empty()) status = check(input.expected, rested_on);
    if (!status.ok()) {
      // Refused: something it rests on changed.
    } else if (input.kind == PartitionInput::Kind::kStart) {
      status = start_instance(input, started, steps, now, mutation);
      if (!status.ok() && input.start.parent_task >= 0) {
        // A child that cannot start fails its parent's call rather than leave it waiting.
        InstanceRecord refused;
        refused.status = RuntimeStatus::kFailed;
        refused.output = status.message();
        refused.parent_id = input.start.parent_id;
        refused.parent_task = input.start.parent_task;
        notify_parent(refused);
      }
    } else if (input.kind == PartitionInput::Kind::kPurge) {
      status = purge_instance(input.instance_id, mutation);
    } else if (input.kind == PartitionInput::Kind::kCommit) {
      mutation.absorb(std::move(input.effects));
    } else if (auto found = instances_.find(input.instance_id); found == instances_.end()) {
      status = not_found(fmt::format("instance {} is not running", input.instance_id));
    } else {
      Instance& instance = *found->second;
      const EventType type = input.event.type;
      const bool is_result = type == EventType::kTaskCompleted || type == EventType::kTaskFailed ||
                             type == EventType::kTimerFired ||
                             type == EventType::kSubOrchestrationCompleted ||
                             type == EventType::kSubOrchestrationFailed;
      // A late duplicate result changes nothing, and its effects are dropped with it.
      if (!is_result || instance.runner->is_waiting_on(input.event.task_id)) {
        if (type == EventType::kTaskCompleted) mutation.absorb(std::move(input.effects));
        run_event(step_for(instance, steps, now), std::move(input.event), mutation);
      }
    }
    if (status.ok()) {
      for (auto& expectation : input.expected) {
        rested_on.emplace(expectation.table, std::move(expectation.key));
      }
    }
    if (input.reply) replies.emplace_back(std::move(input.reply), std::move(status));
  }

  for (auto& step : steps) write_step(step, now, mutation);
  mutation.fence_by(options_.index);
  const Status committed = mutation.empty() ? Status() : backend_.commit(mutation);
  for (auto& step : steps) step.instance->step = kNoStep;

  if (committed.ok() && !mutation.empty() && failed_commits_ > 0) {
    spdlog::info("partition commits again after {} failed attempts", failed_commits_);
    failed_commits_ = 0;
  }
  if (!committed.ok()) {
    commit_failures_.fetch_add(1, std::memory_order_relaxed);
    if (failed_commits_++ % 100 == 0) {
      spdlog::error("partition commit failed (attempt {}): {}", failed_commits_,
                    committed.to_string());
    }
    // Memory ran ahead of storage: every touched instance is read back from what was
    // committed, which may include this commit (a lost connection leaves its outcome unknown).
    for (const auto& step : steps) {
      std::string id = step.instance->record.instance_id;
      instances_.erase(id);
      unloaded_.emplace_back(std::move(id), now);
    }
    (void)reload_unloaded();  // what storage cannot answer now, run() asks again
  }
  for (auto& [reply, status] : replies) reply(committed.ok() ? status : committed);
  if (!committed.ok()) {
    active_count_ = instances_.size();
    return;
  }
  // Finished instances leave the partition before anyone hears of their end, so whoever is told
  // (a request waiting with ?wait=) no longer counts them as running.
  std::vector<std::unique_ptr<Instance>> ended;
  for (const auto& step : steps) {
    const std::string& id = step.instance->record.instance_id;
    if (step.instance->runner->finished()) {
      ended.push_back(std::move(instances_.extract(id).mapped()));
    } else {
      carry_out(id, work_from(step.history, *step.instance->runner));
    }
  }
  active_count_ = instances_.size();
  for (const auto& instance : ended) {
    notify_parent(instance->record);
    if (options_.on_finished) options_.on_finished(instance->record);
  }
}

Status Partition::check(const std::vector<Expectation>& expected,
                        const std::set<std::pair<Table, std::string>>& rested_on) {
  for (const auto& expectation : expected) {
    const Status changed = failed_precondition("what the request rests on changed meanwhile");
    if (rested_on.contains({expectation.table, expectation.key})) return changed;
    SLUICE_ASSIGN_OR_RETURN(auto value, backend_.get(expectation.table, expectation.key));
    if (!value || *value != expectation.value) return changed;
  }
  return {};
}

Status Partition::purge_instance(const std::string& id, storage::Mutation& mutation) {
  if (instances_.contains(id)) {
    return failed_precondition(fmt::format("instance {} has not finished", id));
  }
  SLUICE_ASSIGN_OR_RETURN(auto stored, backend_.get(Table::kInstances, id));
  if (!stored) return not_found(fmt::format("no instance {}", id));
  SLUICE_ASSIGN_OR_RETURN(InstanceRecord record, decode_record(id, *stored));
  if (!is_terminal(record.status)) {
    return failed_precondition(fmt::format("instance {} has not finished", id));
  }
  mutation.erase(Table::kInstances, id);
  for (std::uint32_t chunk = 0; chunk < record.history_chunks; ++chunk) {
    mutation.erase(Table::kHistory, history_key(id, chunk));
  }
  return {};
}

Result<std::unique_ptr<Partition::Instance>> Partition::load(const std::string& id) {
  SLUICE_ASSIGN_OR_RETURN(auto stored, backend_.get(Table::kInstances, id));
  if (!stored) return std::unique_ptr<Instance>();
  auto instance = std::make_unique<Instance>();
  SLUICE_ASSIGN_OR_RETURN(instance->record, decode_record(id, *stored));
  std::vector<HistoryEvent> history;
  if (!instance->record.history.empty()) {
    SLUICE_RETURN_IF_ERROR(decode_events(instance->record.history, history));
    instance->record.history.clear();
  } else {
    storage::ScanOptions scan;
    scan.prefix = history_prefix(id);
    scan.limit = instance->record.history_chunks + 1;
    SLUICE_ASSIGN_OR_RETURN(auto chunks, backend_.scan(Table::kHistory, scan));
    for (const auto& chunk : chunks) SLUICE_RETURN_IF_ERROR(decode_events(chunk.value, history));
  }
  if (instance->record.input.empty()) instance->record.input = run_input(history);
  instance->runner = std::make_unique<OrchestrationRunner>(id, registry_);
  for (const auto& event : history) instance->runner->apply(event, true);
  return instance;
}

Status Partition::recover(const std::vector<std::string>& instance_ids) {
  const Micros now = clock_.now();
  storage::Mutation mutation;
  std::vector<std::pair<std::string, std::vector<PendingWork>>> work;
  std::vector<InstanceRecord> finished;
  for (const auto& id : instance_ids) {
    SLUICE_ASSIGN_OR_RETURN(auto instance, load(id));
    if (!instance) continue;
    // What the code asks for beyond its history (it was extended, or it diverged) is recorded
    // now, as a step of its own.
    Step step{instance.get(), instance->runner->take_new_events()};
    std::vector<PendingWork> pending = instance->runner->pending_work();
    for (auto& item : work_from(step.history, *instance->runner))
      pending.push_back(std::move(item));
    if (!step.history.empty()) write_step(step, now, mutation);
    if (instance->runner->finished()) {
      finished.push_back(instance->record);
      continue;
    }
    work.emplace_back(id, std::move(pending));
    instances_.emplace(id, std::move(instance));
  }
  mutation.fence_by(options_.index);
  if (!mutation.empty()) SLUICE_RETURN_IF_ERROR(backend_.commit(mutation));
  for (const auto& [id, pending] : work) carry_out(id, pending);
  for (const auto& record : finished) {
    notify_parent(record);
    if (options_.on_finished) options_.on_finished(record);
  }
  active_count_ = instances_.size();
  return {};
}

}  // namespace sluice::engine
