#pragma once

// Worker: the one way sluice runs a long-lived thread. Its threads are named (at most 15
// characters show in top, perf and gdb) and told to stop through one std::stop_token. A worker
// waits on a std::condition_variable_any with that token, so a stop request wakes it wherever it
// waits. stop() returns once every thread has returned; from then on stop_requested() is true,
// even for a worker that was never started, so an owner that checks it under its own mutex
// refuses new work exactly when no thread is left to do it.

#include <pthread.h>

#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sluice {

class Worker {
 public:
  Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { stop(); }

  // Runs body(stop_token) on `threads` new threads called `name`. A worker that was stopped
  // starts afresh.
  template <class Body>
  void start(std::string_view name, Body body, unsigned threads = 1) {
    if (stop_.stop_requested()) stop_ = std::stop_source();
    const std::string shown(name.substr(0, 15));
    for (unsigned i = 0; i < threads; ++i) {
      threads_.emplace_back([shown, body, stop = stop_.get_token()]() mutable {
        pthread_setname_np(pthread_self(), shown.c_str());
        body(stop);
      });
    }
  }

  // Asks every thread to stop and waits until each has returned. Calling it again does nothing.
  void stop() {
    stop_.request_stop();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

  bool stop_requested() const noexcept { return stop_.stop_requested(); }

 private:
  std::stop_source stop_;
  std::vector<std::thread> threads_;
};

}  // namespace sluice
