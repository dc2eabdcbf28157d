#pragma once

// CompletionWaiters: lets a request wait for instances to finish without holding a thread.
//
// The engine tells notify() of every instance that finishes, with its final record; a waiting
// request registers its ids, reads which have already finished, and sleeps on a timer on its own
// strand that the last notification (or the deadline) ends. Notifications are posted to that
// strand, so none is lost between the read and the sleep, and they carry the record, so a waiter
// need not read it back.

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

#include "engine/instance_record.h"

namespace sluice::http {

class CompletionWaiters {
 public:
  using Finished = std::shared_ptr<const engine::InstanceRecord>;

  // `record` has finished. Thread-safe.
  void notify(const engine::InstanceRecord& record);
  // Ends every wait now, finished or not (the server is stopping). Thread-safe.
  void cancel_all();

  // Waits until every id has finished or `timeout` has passed, and returns, per id, its final
  // record (without its input), or null for one that has not finished. `finished` reads from
  // storage whether one id has already finished; it runs on `blocking`. Must be awaited on a
  // strand.
  boost::asio::awaitable<std::vector<Finished>> wait(
      const std::vector<std::string>& ids, std::chrono::steady_clock::duration timeout,
      boost::asio::thread_pool& blocking, std::function<Finished(const std::string&)> finished);

 private:
  struct Waiter;
  class Registration;
  void add(const std::vector<std::string>& ids, const std::shared_ptr<Waiter>& waiter);
  void remove(const std::vector<std::string>& ids, const std::shared_ptr<Waiter>& waiter);

  std::mutex mutex_;
  std::unordered_multimap<std::string, std::shared_ptr<Waiter>> waiters_;  // guarded by mutex_
};

}  // namespace sluice::http
