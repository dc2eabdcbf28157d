#pragma once

// AlertFeed: in-process subscribers to processed events (the overlay feed). Publishing is an
// outside effect of the alerts activity: at least once per event, in no guaranteed order.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace sluice::pipeline {

class AlertFeed {
 public:
  using Subscriber = std::function<void(const std::string& event_json)>;

  // Returns a handle for unsubscribe. Subscribers run on the publishing thread; keep them short.
  std::uint64_t subscribe(Subscriber subscriber) {
    std::lock_guard lock(mutex_);
    subscribers_.emplace(next_, std::move(subscriber));
    return next_++;
  }
  void unsubscribe(std::uint64_t handle) {
    std::lock_guard lock(mutex_);
    subscribers_.erase(handle);
  }
  void publish(const std::string& event_json) {
    std::lock_guard lock(mutex_);
    for (auto& [handle, subscriber] : subscribers_) subscriber(event_json);
  }

 private:
  std::mutex mutex_;
  std::map<std::uint64_t, Subscriber> subscribers_;  // guarded by mutex_
  std::uint64_t next_ = 1;                           // guarded by mutex_
};

}  // namespace sluice::pipeline
