#pragma once

// CompletionWaiters: lets a request wait for instances to finish without holding a thread.
//
// The engine tells notify() of every instance that finishes, with its final record. A request
// registers its ids (a Wait) before it appends their events, so no finish can come before the
// registration except a duplicate's, which it reads from storage. It sleeps on a timer on its own
// strand that the last notification (or the deadline) ends. Notifications are posted to that
// strand, so none is lost before the sleep, and they carry the record, so a waiter need not read
// it back.
//
// Where nodes share storage, an instance may finish on another node, which notifies nobody here.
// A wait reads such instances from storage now and then: soon at first, then less often.

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

namespace sluice::engine {
class Engine;
}

namespace sluice::http {

class CompletionWaiters {
  struct Waiter;

 public:
  using Finished = std::shared_ptr<const engine::InstanceRecord>;

  // `record` has finished. Thread-safe.
  void notify(const engine::InstanceRecord& record);
  // Ends every wait now, finished or not (the server is stopping). Thread-safe.
  void cancel_all();
  // Where nodes share storage: `elsewhere` tells whether an instance finishes on another node
  // (its partition does not run here now). Set once, before any wait.
  void poll_elsewhere(std::function<bool(const std::string&)> elsewhere) {
    elsewhere_ = std::move(elsewhere);
  }

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
    // accepted before: duplicates); `read` tells from storage whether one has, on `blocking`, and
    // whether one that finishes elsewhere has.
    boost::asio::awaitable<std::vector<Finished>> finished(
        const std::vector<std::string>& earlier, boost::asio::thread_pool& blocking,
        std::function<Finished(const std::string&)> read);

   private:
    // Reads `ids` with `read` on `blocking` and takes those that have finished.
    boost::asio::awaitable<void> read_now(const std::vector<std::string>& ids,
                                          boost::asio::thread_pool& blocking,
                                          const std::function<Finished(const std::string&)>& read);

    CompletionWaiters& waiters_;
    const std::vector<std::string> ids_;
    std::shared_ptr<Waiter> waiter_;
  };

 private:
  void add(const std::vector<std::string>& ids, const std::shared_ptr<Waiter>& waiter);
  void remove(const std::vector<std::string>& ids, const std::shared_ptr<Waiter>& waiter);

  std::function<bool(const std::string&)> elsewhere_;  // empty: every instance finishes here
  std::mutex mutex_;
  std::unordered_multimap<std::string, std::shared_ptr<Waiter>> waiters_;  // guarded by mutex_
};

// A `read` for Wait::finished(): the record of `instance_id` if it has finished, else null.
CompletionWaiters::Finished read_finished(engine::Engine& engine, const std::string& instance_id);

}  // namespace sluice::http
