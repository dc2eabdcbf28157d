#include "pipeline/intake_consumer.h"

#include <chrono>

#include "core/logging.h"
#include "core/thread_name.h"
#include "pipeline/process_event.h"

namespace sluice::pipeline {

IntakeConsumer::IntakeConsumer(queue::IntakeQueue& intake, engine::Engine& engine,
                               storage::Backend& backend, std::size_t max_in_flight)
    : intake_(intake), engine_(engine), backend_(backend), max_in_flight_(max_in_flight) {
  intake_.set_append_listener([this] { wake(); });
}

IntakeConsumer::~IntakeConsumer() { stop(); }

void IntakeConsumer::start() {
  thread_ = std::thread([this] {
    set_thread_name("intake-consume");
    run();
  });
}

void IntakeConsumer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  if (thread_.joinable()) thread_.join();
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

void IntakeConsumer::run() {
  while (true) {
    std::size_t room = 0;
    {
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      const std::size_t busy = engine_.active_instances() + starting_;
      room = busy < max_in_flight_ ? max_in_flight_ - busy : 0;
      if (room == 0 || !woken_) {
        // Wait for new messages or for room; the timeout also notices instances finishing.
        short_of_room_ = room == 0;
        ready_.wait_for(lock, std::chrono::milliseconds(room == 0 ? 2 : 50));
        short_of_room_ = false;
        woken_ = false;
        if (stopping_) return;
        if (room == 0) continue;
      }
      woken_ = false;
    }
    auto leased = intake_.lease(std::min<std::size_t>(room, 1000));
    if (!leased.ok()) {
      spdlog::error("intake consumer: {}", leased.status().to_string());
      continue;
    }
    if (leased->empty()) continue;
    if (leased->size() == std::min<std::size_t>(room, 1000)) wake();  // more may be waiting
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
      const std::uint64_t sequence = message.sequence;
      engine_.start_instance(
          std::move(request),
          [this, sequence, message = std::move(message)](Status status) {
            bool taken = status.ok();
            if (status.code() == StatusCode::kAlreadyExists) {
              // The id was used by other means (the management API): the message has nothing
              // left to do. Take it on its own.
              storage::Mutation alone;
              intake_.take(alone, message);
              taken = backend_.commit(alone).ok();
              spdlog::warn("event {}: an instance with its id exists; message taken", message.id);
            }
            intake_.settle(std::span<const std::uint64_t>(&sequence, 1), taken);
            bool wanted = false;
            {
              std::lock_guard lock(mutex_);
              --starting_;
              if (!taken) woken_ = true;  // leased again on the next round
              // Only a consumer short of room, a message given back or stop() need hear of it:
              // waking the consumer for every answer costs a wake-up and an empty lease each.
              wanted = short_of_room_ || !taken || stopping_;
            }
            if (wanted) ready_.notify_all();
          },
          std::move(take));
    }
  }
}

}  // namespace sluice::pipeline
