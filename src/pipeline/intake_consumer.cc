#include "pipeline/intake_consumer.h"

#include <algorithm>
#include <chrono>

#include "core/logging.h"
#include "core/worker.h"
#include "pipeline/process_event.h"

namespace sluice::pipeline {
namespace {

constexpr std::size_t kMaxLease = 1000;  // messages leased at once
constexpr auto kLongestSleep = std::chrono::milliseconds(100);

}  // namespace

IntakeConsumer::IntakeConsumer(queue::IntakeQueue& intake, engine::Engine& engine,
                               storage::Backend& backend, std::size_t max_in_flight,
                               std::chrono::milliseconds poll)
    : intake_(intake),
      engine_(engine),
      backend_(backend),
      max_in_flight_(max_in_flight),
      poll_(poll),
      refill_(std::max<std::size_t>(1, max_in_flight / 8)) {
  intake_.set_append_listener([this] { wake(); });
}

IntakeConsumer::~IntakeConsumer() { stop(); }

void IntakeConsumer::start() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;  // messages left from before a restart wait to be leased
  }
  worker_.start("intake-consume", [this](const std::stop_token& stop) { run(stop); });
}

void IntakeConsumer::halt() { worker_.stop(); }

void IntakeConsumer::stop() {
  halt();
  // Answers to starts still on their way touch only the queue's leases and this object's
  // counter; wait for them so neither is used after it goes.
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [this] { return starting_ == 0; });
}

void IntakeConsumer::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  ready_.notify_one();
}

std::size_t IntakeConsumer::room_locked() const {
  const std::size_t busy = engine_.active_instances() + starting_;
  return busy < max_in_flight_ ? max_in_flight_ - busy : 0;
}

void IntakeConsumer::instance_finished() {
  if (!short_of_room_.load(std::memory_order_acquire)) return;
  // Wake for a worthwhile batch of room, not for every slot: at tens of thousands of finishes a
  // second, a wake-up per finish would cost more than the leases it saves. Exactly one finisher
  // crosses the mark; it takes the lock so its wake-up cannot fall between the consumer's
  // decision to sleep and its sleep.
  if (freed_.fetch_add(1, std::memory_order_relaxed) + 1 != refill_) return;
  {
    std::lock_guard lock(mutex_);
    short_of_room_ = false;
  }
  ready_.notify_one();
}

void IntakeConsumer::run(const std::stop_token& stop) {
  const WakeOnStop wake_on_stop(stop, mutex_, ready_);
  auto next_look = std::chrono::steady_clock::now() + poll_;
  while (true) {
    std::size_t room = 0;
    std::vector<queue::Message> orphans;
    {
      std::unique_lock lock(mutex_);
      auto has_work = [this] { return !orphans_.empty() || (woken_ && room_locked() > 0); };
      while (!stop.stop_requested() && !has_work()) {
        if (poll_.count() > 0 && std::chrono::steady_clock::now() >= next_look) {
          woken_ = true;  // other nodes append without telling this one
          next_look = std::chrono::steady_clock::now() + poll_;
          continue;
        }
        const bool short_of_room = room_locked() == 0;
        if (short_of_room) {
          freed_.store(0, std::memory_order_relaxed);
          short_of_room_ = true;
        }
        // Every change waited for is signalled (appends, answers, finishes); the bound only
        // covers room freed below instance_finished()'s mark while nothing else happens. A
        // finisher that crossed the mark ends the wait even if others took the room meanwhile,
        // so that the mark is set again.
        ready_.wait_for(lock, kLongestSleep, [&] {
          return stop.stop_requested() || has_work() || (short_of_room && !short_of_room_);
        });
        short_of_room_ = false;
      }
      if (stop.stop_requested()) return;
      room = woken_ ? room_locked() : 0;
      orphans.swap(orphans_);
      if (room > 0) woken_ = false;
    }
    if (!orphans.empty()) take_orphans(std::move(orphans));
    if (room == 0) continue;
    const std::size_t batch = std::min(room, kMaxLease);
    auto leased =
        intake_.lease(batch, [this](unsigned partition) { return engine_.runs(partition); });
    if (!leased.ok()) {
      spdlog::error("intake consumer: {}", leased.status().to_string());
      std::unique_lock lock(mutex_);
      ready_.wait_for(lock, kLongestSleep, [&stop] { return stop.stop_requested(); });
      woken_ = true;  // try again
      continue;
    }
    if (leased->empty()) continue;
    if (leased->size() == batch) wake();  // more may be waiting
    {
      std::lock_guard lock(mutex_);
      starting_ += leased->size();
    }
    for (auto& message : *leased) {
      storage::Mutation take;
      intake_.take(take, message);
      engine::StartRequest request;
      request.name = kProcessEvent;
      request.instance_id = message.id;
      request.input = make_envelope(message.body, message.enqueued_at);
      message.body = {};  // the answer needs the message only to take it and to name it
      const queue::Position position = message.position;
      engine_.start_instance(
          std::move(request),
          [this, position, message = std::move(message)](Status status) mutable {
            // Runs on a partition thread, which must not block: a message whose id exists is
            // handed to the consumer's thread to be taken.
            const bool orphan = status.code() == StatusCode::kAlreadyExists;
            if (!orphan)
              intake_.settle(std::span<const queue::Position>(&position, 1), status.ok());
            bool wanted = false;
            {
              std::lock_guard lock(mutex_);
              --starting_;
              if (orphan) orphans_.push_back(std::move(message));
              if (!status.ok()) woken_ = true;  // leased again, or taken, on the next round
              // Only a message given back or stop() need be heard of: a start that succeeded
              // turned a starting instance into a running one and freed no room.
              wanted = !status.ok() || worker_.stop_requested();
            }
            if (wanted) ready_.notify_all();
          },
          std::move(take));
    }
  }
}

void IntakeConsumer::take_orphans(std::vector<queue::Message> orphans) {
  // The ids were used by other means (the management API): the messages have nothing left to do.
  storage::Mutation take;
  std::vector<queue::Position> positions;
  for (const auto& message : orphans) {
    intake_.take(take, message);
    positions.push_back(message.position);
    spdlog::warn("event {}: an instance with its id exists; message taken", message.id);
  }
  const Status taken = backend_.commit(take);
  if (!taken.ok()) spdlog::error("intake consumer: {}", taken.to_string());
  intake_.settle(positions, taken.ok());
}

}  // namespace sluice::pipeline
