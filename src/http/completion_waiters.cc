#include "http/completion_waiters.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unordered_set>

#include "http/offload.h"

namespace sluice::http {

struct CompletionWaiters::Waiter {
  explicit Waiter(boost::asio::any_io_executor executor) : timer(std::move(executor)) {}
  boost::asio::steady_timer timer;
  std::unordered_set<std::string> pending;  // touched only on the waiter's strand
  bool cancelled = false;                   // likewise
};

// Registers a waiter for its lifetime.
class CompletionWaiters::Registration {
 public:
  Registration(CompletionWaiters& waiters, const std::vector<std::string>& ids,
               std::shared_ptr<Waiter> waiter)
      : waiters_(waiters), ids_(ids), waiter_(std::move(waiter)) {
    waiters_.add(ids_, waiter_);
  }
  ~Registration() { waiters_.remove(ids_, waiter_); }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  CompletionWaiters& waiters_;
  const std::vector<std::string>& ids_;
  std::shared_ptr<Waiter> waiter_;
};

void CompletionWaiters::add(const std::vector<std::string>& ids,
                            const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mutex_);
  for (const auto& id : ids) waiters_.emplace(id, waiter);
}

void CompletionWaiters::remove(const std::vector<std::string>& ids,
                               const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mutex_);
  for (const auto& id : ids) {
    auto [begin, end] = waiters_.equal_range(id);
    for (auto it = begin; it != end; ++it) {
      if (it->second == waiter) {
        waiters_.erase(it);
        break;
      }
    }
  }
}

void CompletionWaiters::notify(const std::string& instance_id) {
  // Always under the lock: a check without it could miss a waiter registering meanwhile.
  std::lock_guard lock(mutex_);
  auto [begin, end] = waiters_.equal_range(instance_id);
  for (auto it = begin; it != end; ++it) {
    boost::asio::post(it->second->timer.get_executor(), [waiter = it->second, instance_id] {
      waiter->pending.erase(instance_id);
      if (waiter->pending.empty()) waiter->timer.cancel();
    });
  }
}

void CompletionWaiters::cancel_all() {
  std::lock_guard lock(mutex_);
  for (auto& [id, waiter] : waiters_) {
    boost::asio::post(waiter->timer.get_executor(), [waiter = waiter] {
      waiter->pending.clear();
      waiter->cancelled = true;
      waiter->timer.cancel();
    });
  }
}

boost::asio::awaitable<void> CompletionWaiters::wait(
    const std::vector<std::string>& ids, std::chrono::steady_clock::duration timeout,
    boost::asio::thread_pool& blocking, std::function<bool(const std::string&)> finished) {
  auto waiter = std::make_shared<Waiter>(co_await boost::asio::this_coro::executor);
  waiter->timer.expires_after(timeout);
  waiter->pending.insert(ids.begin(), ids.end());
  // However this coroutine ends (or is destroyed unfinished), it leaves no registration behind.
  Registration registration(*this, ids, waiter);
  // Registered first, read second: an instance that finishes in between is caught by both.
  std::vector<std::string> done = co_await run_blocking(blocking, [&ids, &finished] {
    std::vector<std::string> already;
    for (const auto& id : ids) {
      if (finished(id)) already.push_back(id);
    }
    return already;
  });
  for (const auto& id : done) waiter->pending.erase(id);
  if (!waiter->pending.empty() && !waiter->cancelled) {
    boost::system::error_code ended;  // operation_aborted when the last instance finished
    co_await waiter->timer.async_wait(
        boost::asio::redirect_error(boost::asio::use_awaitable, ended));
  }
}

}  // namespace sluice::http
