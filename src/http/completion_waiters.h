#pragma once

// CompletionWaiters: lets a request wait for instances to finish without holding a thread.
//
// The engine tells notify() of every instance that finishes; a waiting request registers its ids,
// reads which have already finished, and sleeps on a timer on its own strand that the last
// notification (or the deadline) ends. Notifications are posted to that strand, so none is lost
// between the read and the sleep.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sluice::http {

class CompletionWaiters {
 public:
  // Thread-safe.
  void notify(const std::string& instance_id);
  // Ends every wait now, finished or not (the server is stopping). Thread-safe.
  void cancel_all();

  // Returns when every id has finished or `timeout` has passed. `finished` reads from storage
  // whether one id has already finished; it runs on `blocking`. Must be awaited on a strand.
  boost::asio::awaitable<void> wait(const std::vector<std::string>& ids,
                                    std::chrono::steady_clock::duration timeout,
                                    boost::asio::thread_pool& blocking,
                                    std::function<bool(const std::string&)> finished);

 private:
  struct Waiter;
  class Registration;
  void add(const std::vector<std::string>& ids, const std::shared_ptr<Waiter>& waiter);
  void remove(const std::vector<std::string>& ids, const std::shared_ptr<Waiter>& waiter);

  std::mutex mutex_;
  std::unordered_multimap<std::string, std::shared_ptr<Waiter>> waiters_;  // guarded by mutex_
};

}  // namespace sluice::http
