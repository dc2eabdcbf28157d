#pragma once

// Bridges from coroutines on the HTTP executors to work that blocks (storage reads) or finishes on
// another thread (group-committed appends). The awaiting coroutine resumes on its own executor.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

#include "queue/intake_queue.h"

namespace sluice::http {

namespace detail {

// Holds a completion handler and keeps its executor busy until the handler has been called, so
// the server cannot run out of work while an answer is on its way from another thread.
template <typename Handler>
struct PendingCompletion {
  explicit PendingCompletion(Handler h)
      : handler(std::move(h)), work(boost::asio::get_associated_executor(handler)) {}
  template <typename... Args>
  void complete(Args&&... args) {
    auto executor = work.get_executor();
    boost::asio::post(executor, [self = std::move(self_keepalive),
                                 values = std::make_tuple(std::forward<Args>(args)...)]() mutable {
      std::apply(std::move(self->handler), std::move(values));
    });
  }
  Handler handler;
  boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler>> work;
  std::shared_ptr<PendingCompletion> self_keepalive;
};

template <typename Handler>
std::shared_ptr<PendingCompletion<Handler>> make_pending(Handler handler) {
  auto pending = std::make_shared<PendingCompletion<Handler>>(std::move(handler));
  pending->self_keepalive = pending;
  return pending;
}

}  // namespace detail

// Runs `function` (returning R, default-constructible) on `pool`; the caller resumes with its
// value.
template <typename Function>
auto run_blocking(boost::asio::thread_pool& pool, Function function) {
  using R = decltype(function());
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(R)>(
      [&pool](auto handler, Function fn) {
        auto pending = detail::make_pending(std::move(handler));
        boost::asio::post(pool,
                          [pending, fn = std::move(fn)]() mutable { pending->complete(fn()); });
      },
      boost::asio::use_awaitable, std::move(function));
}

// Appends to `queue`; the caller resumes once the batch is durable, with the Status and, when OK,
// the outcome.
inline auto async_append(queue::IntakeQueue& queue, std::vector<queue::NewMessage> messages) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>,
                                     void(std::tuple<Status, queue::AppendOutcome>)>(
      [&queue](auto handler, std::vector<queue::NewMessage> batch) {
        auto pending = detail::make_pending(std::move(handler));
        queue.append(std::move(batch), [pending](Result<queue::AppendOutcome> outcome) {
          if (outcome.ok()) {
            pending->complete(std::make_tuple(Status(), std::move(outcome).value()));
          } else {
            pending->complete(std::make_tuple(outcome.status(), queue::AppendOutcome{}));
          }
        });
      },
      boost::asio::use_awaitable, std::move(messages));
}

// Calls `start(reply)`, where `reply` is a `void(Status)` callback that may run on any thread;
// the caller resumes with that Status.
template <typename Start>
auto await_status(Start start) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(Status)>(
      [](auto handler, Start begin) {
        auto pending = detail::make_pending(std::move(handler));
        begin([pending](Status status) { pending->complete(std::move(status)); });
      },
      boost::asio::use_awaitable, std::move(start));
}

}  // namespace sluice::http
