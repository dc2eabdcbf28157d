#include "http/completion_waiters.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unordered_map>
#include <unordered_set>

#include "engine/engine.h"
#include "http/offload.h"

namespace sluice::http {

namespace {

// How soon a wait first reads the instances that finish elsewhere, and how seldom at most.
constexpr std::chrono::milliseconds kFirstPoll(50);
constexpr std::chrono::milliseconds kSlowestPoll(1000);

}  // namespace

struct CompletionWaiters::Waiter {
  Waiter(boost::asio::any_io_executor executor, std::chrono::steady_clock::time_point until)
      : timer(std::move(executor)), deadline(until) {}
  boost::asio::steady_timer timer;
  const std::chrono::steady_clock::time_point deadline;
  // Touched only on the waiter's strand.
  std::unordered_set<std::string> pending;
  std::unordered_map<std::string, Finished> finished;
  bool cancelled = false;
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

CompletionWaiters::Wait::Wait(CompletionWaiters& waiters, std::vector<std::string> ids,
                              std::chrono::steady_clock::duration timeout,
                              boost::asio::any_io_executor strand)
    : waiters_(waiters),
      ids_(std::move(ids)),
      waiter_(
          std::make_shared<Waiter>(std::move(strand), std::chrono::steady_clock::now() + timeout)) {
  waiter_->pending.insert(ids_.begin(), ids_.end());
  waiters_.add(ids_, waiter_);
}

CompletionWaiters::Wait::~Wait() { waiters_.remove(ids_, waiter_); }

boost::asio::awaitable<void> CompletionWaiters::Wait::read_now(
    const std::vector<std::string>& ids, boost::asio::thread_pool& blocking,
    const std::function<Finished(const std::string&)>& read) {
  std::vector<Finished> read_records = co_await run_blocking(blocking, [&ids, &read] {
    std::vector<Finished> records;
    records.reserve(ids.size());
    for (const auto& id : ids) records.push_back(read(id));
    return records;
  });
  for (const auto& record : read_records) {
    if (record && waiter_->pending.erase(record->instance_id) > 0) {
      waiter_->finished.emplace(record->instance_id, record);
    }
  }
}

boost::asio::awaitable<std::vector<CompletionWaiters::Finished>> CompletionWaiters::Wait::finished(
    const std::vector<std::string>& earlier, boost::asio::thread_pool& blocking,
    std::function<Finished(const std::string&)> read) {
  // Registered first, read second: one that finishes in between is caught by both.
  if (!earlier.empty()) co_await read_now(earlier, blocking, read);
  const auto& elsewhere = waiters_.elsewhere_;
  std::chrono::milliseconds poll = kFirstPoll;
  std::unordered_set<std::string> read_elsewhere;
  // A notification that takes the last pending id cancels the timer; one that comes while the
  // timer is not armed is seen by the check before it is armed again.
  while (!waiter_->pending.empty() && !waiter_->cancelled) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= waiter_->deadline) break;
    waiter_->timer.expires_at(elsewhere ? std::min(waiter_->deadline, now + poll)
                                        : waiter_->deadline);
    boost::system::error_code ended;  // operation_aborted when the last instance finished
    co_await waiter_->timer.async_wait(
        boost::asio::redirect_error(boost::asio::use_awaitable, ended));
    if (!elsewhere) break;
    poll = std::min(2 * poll, kSlowestPoll);
    // One that ran elsewhere stays read: it may have finished there before its partition moved
    // here, and then no notification comes.
    std::vector<std::string> remote;
    for (const auto& id : waiter_->pending) {
      if (read_elsewhere.contains(id) || elsewhere(id)) remote.push_back(id);
    }
    read_elsewhere.insert(remote.begin(), remote.end());
    if (remote.empty() || waiter_->cancelled) continue;
    co_await read_now(remote, blocking, read);
  }
  std::vector<Finished> records;
  records.reserve(ids_.size());
  for (const auto& id : ids_) {
    auto found = waiter_->finished.find(id);
    records.push_back(found == waiter_->finished.end() ? nullptr : found->second);
  }
  co_return records;
}

CompletionWaiters::Finished read_finished(engine::Engine& engine, const std::string& instance_id) {
  auto record = engine.instance(instance_id);
  if (!record.ok() || !*record || !engine::is_terminal((*record)->status)) return nullptr;
  return std::make_shared<engine::InstanceRecord>(std::move(**record));
}

}  // namespace sluice::http
