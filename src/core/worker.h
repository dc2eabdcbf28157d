#pragma once

// Worker: the one way sluice runs a long-lived thread of its own. Its threads are named (at most
// 15 characters show in top, perf and gdb) and told to stop through one std::stop_token. A thread
// that sleeps on a condition variable holds a WakeOnStop for it, so a stop request wakes it
// wherever it waits. stop() returns once every thread has returned. stop_requested() is true from
// the request on (also for a worker stopped before it ever started), so an owner that checks it
// under its own mutex, and drains under that mutex after stop(), neither loses work nor takes any
// too late.

#include <pthread.h>

#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sluice {

// While it lives, a stop request notifies `ready` under `mutex`, which the waits on `ready` hold,
// so no waiter that checks stop_requested() in its predicate can miss it. A plain
// std::condition_variable with this costs less per wake-up than std::condition_variable_any's
// waits with a stop token, which take a second mutex on every wait and notify.
class WakeOnStop {
 public:
  WakeOnStop(const std::stop_token& stop, std::mutex& mutex, std::condition_variable& ready)
      : callback_(stop, Wake{mutex, ready}) {}

 private:
  struct Wake {
    std::mutex& mutex;
    std::condition_variable& ready;
    void operator()() const {
      const std::lock_guard lock(mutex);
      ready.notify_all();
    }
  };
  std::stop_callback<Wake> callback_;
};

// A sleep of one Worker thread that a stop request cuts short. One per thread.
class StoppableSleep {
 public:
  // Sleeps for `delay`, or until `stop` is requested; false when stopping.
  template <class Duration>
  bool sleep(Duration delay, const std::stop_token& stop) {
    // Registered before the lock is taken: a stop already requested runs the callback at once,
    // and it takes the lock.
    const WakeOnStop wake(stop, mutex_, ready_);
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, delay, [&stop] { return stop.stop_requested(); });
    return !stop.stop_requested();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
};

class Worker {
 public:
  Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { stop(); }

  // Runs body(stop_token) on `threads` new threads called `name`. A worker that was stopped
  // starts afresh; not while another thread may call stop_requested().
  template <class Body>
  void start(std::string_view name, Body body, unsigned threads = 1) {
    const std::lock_guard lock(threads_mutex_);
    if (stop_.stop_requested()) stop_ = std::stop_source();
    const std::string shown(name.substr(0, 15));
    for (unsigned i = 0; i < threads; ++i) {
      threads_.emplace_back([shown, body, stop = stop_.get_token()]() mutable {
        pthread_setname_np(pthread_self(), shown.c_str());
        body(stop);
      });
    }
  }

  // Asks every thread to stop and waits until each has returned. Calling it again, from any
  // thread, does nothing.
  void stop() {
    const std::lock_guard lock(threads_mutex_);
    stop_.request_stop();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

  bool stop_requested() const noexcept { return stop_.stop_requested(); }

 private:
  std::mutex threads_mutex_;  // one start() or stop() at a time
  std::stop_source stop_;
  std::vector<std::thread> threads_;
};

}  // namespace sluice
