#pragma once

// CompletionWaiters: lets a request wait for instances to finish without holding a thread.
//
// The engine tells notify() of every instance that finishes, with its final record. A request
// registers its ids (a Wait) before it appends their events, so no finish can come before the
// registration except a duplicate's, which it reads from storage. It sleeps on a timer on its own
// strand that the last notification (or the deadline) ends. Notifications are posted to that
// strand, so none is lost before the sleep, and they carry the record, so a waiter need not read
// it back.

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
  struct Waiter;

 public:
  using Finished = std::shared_ptr<const engine::InstanceRecord>;

  // `record` has finished. Thread-safe.
  void notify(const engine::InstanceRecord& record);
  // Ends every wait now, finished or not (the server is stopping). Thread-safe.
  void cancel_all();

  // A wait for `ids`, registered for its lifetime. Made before the ids' events are appended, it
  // misses none of them finishing. Made, awaited and destroyed on one strand.
  class Wait {
   public:
    Wait(CompletionWaiters& waiters, std::vector<std::string> ids,
         std::chrono::steady_clock::duration timeout, boost::asio::any_io_executor strand);
    ~Wait();
    Wait(const Wait&) = delete;
    Wait& operator=(const Wait&) = delete;

    // Waits until every id has finished or the timeout (counted from construction) has passed,
    // and returns, per id, its final record (without its input), or null for one that has not
    // finished. `earlier` are the ids that may have finished before the registration (events
    // accepted before: duplicates); `read` tells from storage whether one has, on `blocking`.
    boost::asio::awaitable<std::vector<Finished>> finished(
        const std::vector<std::string>& earlier, boost::asio::thread_pool& blocking,
        std::function<Finished(const std::string&)> read);

   private:
    CompletionWaiters& waiters_;
    const std::vector<std::string> ids_;
    std::shared_ptr<Waiter> waiter_;
  };

 private:
  void add(const std::vector<std::string>& ids, const std::shared_ptr<Waiter>& waiter);
  void remove(const std::vector<std::string>& ids, const std::shared_ptr<Waiter>& waiter);

  std::mutex mutex_;
  std::unordered_multimap<std::string, std::shared_ptr<Waiter>> waiters_;  // guarded by mutex_
};

}  // namespace sluice::http
