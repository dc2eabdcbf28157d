#include "http/completion_waiters.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unordered_map>
#include <unordered_set>

#include "http/offload.h"

namespace sluice::http {

struct CompletionWaiters::Waiter {
  explicit Waiter(boost::asio::any_io_executor executor) : timer(std::move(executor)) {}
  boost::asio::steady_timer timer;
  // Touched only on the waiter's strand.
  std::unordered_set<std::string> pending;
  std::unordered_map<std::string, Finished> finished;
  bool cancelled = false;
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

void CompletionWaiters::notify(const engine::InstanceRecord& record) {
  // Always under the lock: a check without it could miss a waiter registering meanwhile.
  std::lock_guard lock(mutex_);
  auto [begin, end] = waiters_.equal_range(record.instance_id);
  if (begin == end) return;
  auto shared = std::make_shared<engine::InstanceRecord>(record);
  shared->input.clear();  // no waiting answer shows it
  const Finished finished = std::move(shared);
  for (auto it = begin; it != end; ++it) {
    boost::asio::post(it->second->timer.get_executor(), [waiter = it->second, finished] {
      if (waiter->pending.erase(finished->instance_id) == 0) return;
      waiter->finished.emplace(finished->instance_id, finished);
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

boost::asio::awaitable<std::vector<CompletionWaiters::Finished>> CompletionWaiters::wait(
    const std::vector<std::string>& ids, std::chrono::steady_clock::duration timeout,
    boost::asio::thread_pool& blocking, std::function<Finished(const std::string&)> finished) {
  auto waiter = std::make_shared<Waiter>(co_await boost::asio::this_coro::executor);
  waiter->timer.expires_after(timeout);
  waiter->pending.insert(ids.begin(), ids.end());
  // However this coroutine ends (or is destroyed unfinished), it leaves no registration behind.
  Registration registration(*this, ids, waiter);
  // Registered first, read second: an instance that finishes in between is caught by both.
  std::vector<Finished> already = co_await run_blocking(blocking, [&ids, &finished] {
    std::vector<Finished> read;
    read.reserve(ids.size());
    for (const auto& id : ids) read.push_back(finished(id));
    return read;
  });
  for (const auto& record : already) {
    if (record && waiter->pending.erase(record->instance_id) > 0) {
      waiter->finished.emplace(record->instance_id, record);
    }
  }
  if (!waiter->pending.empty() && !waiter->cancelled) {
    boost::system::error_code ended;  // operation_aborted when the last instance finished
    co_await waiter->timer.async_wait(
        boost::asio::redirect_error(boost::asio::use_awaitable, ended));
  }
  std::vector<Finished> records;
  records.reserve(ids.size());
  for (const auto& id : ids) {
    auto found = waiter->finished.find(id);
    records.push_back(found == waiter->finished.end() ? nullptr : found->second);
  }
  co_return records;
}

}  // namespace sluice::http
