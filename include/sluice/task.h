#pragma once

// Task<T>: the coroutine type of orchestrators, and when_all / when_any to fan out and in.
//
//   sluice::Task<std::string> greet(sluice::OrchestrationContext& ctx, std::string input) {
//     std::vector<sluice::Task<std::string>> calls;
//     for (const char* city : {"Tokyo", "Lima"}) calls.push_back(ctx.call_activity("hello", city));
//     std::vector<std::string> replies = co_await sluice::when_all(std::move(calls));
//     co_return replies[0] + replies[1];
//   }
//
// A Task is lazy: it starts when awaited (or when when_all / when_any starts it) and resumes
// whoever awaits it when it finishes. Tasks run on their orchestration's thread only, one step at
// a time, so orchestrator code needs no locks. An exception thrown inside a Task comes out of the
// co_await that waits for it.
//
// Coroutine parameters are copied into the frame, so pass them by value; a lambda coroutine's
// captures are not, so do not write capturing lambda coroutines.

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace sluice {

namespace detail {

// Counts the tasks of a when_all / when_any still running; the last one (or the first, for
// when_any) resumes the awaiting coroutine.
struct Latch {
  std::size_t remaining = 0;
  std::coroutine_handle<> waiter;
  std::optional<std::size_t> first_done;  // index of the first task to finish
  bool any = false;                       // when_any: the first to finish resumes the waiter
};

struct PromiseBase {
  std::coroutine_handle<> continuation;  // who awaits this task, if anyone
  Latch* latch = nullptr;                // the when_all / when_any this task belongs to, if any
  std::size_t latch_index = 0;
  bool started = false;
  std::exception_ptr error;

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> done) noexcept {
      PromiseBase& promise = done.promise();
      if (promise.continuation) return promise.continuation;
      if (Latch* group = promise.latch) {
        if (!group->first_done) {
          group->first_done = promise.latch_index;
          if (group->any && group->waiter) return std::exchange(group->waiter, {});
        }
        if (--group->remaining == 0 && group->waiter) return std::exchange(group->waiter, {});
      }
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

}  // namespace detail

namespace detail {

// Where a Task's outcome waits to be taken: a value (or nothing, for Task<void>) or an exception.
template <typename T>
struct ValuePromise : PromiseBase {
  std::optional<T> value;
  template <typename U>
  void return_value(U&& result) {
    value.emplace(std::forward<U>(result));
  }
  T take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct ValuePromise<void> : PromiseBase {
  void return_void() {}
  void take() {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

template <typename T = void>
class [[nodiscard]] Task {
 public:
  struct promise_type : detail::ValuePromise<T> {
    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
  };

  Task() = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  ~Task() { destroy(); }

  bool valid() const { return static_cast<bool>(handle_); }
  bool done() const { return handle_ && handle_.done(); }

  // The result of a finished task; rethrows its exception.
  T result() { return handle_.promise().take(); }

  bool await_ready() const noexcept { return handle_.done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
    auto& promise = handle_.promise();
    promise.continuation = caller;
    // A task already started by when_any is running: wait for it rather than start it again.
    if (promise.started) return std::noop_coroutine();
    promise.started = true;
    return handle_;
  }
  T await_resume() { return result(); }

  // For the engine and for when_all / when_any: the coroutine itself.
  std::coroutine_handle<promise_type> handle() const { return handle_; }

 private:
  explicit Task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
  void destroy() {
    if (handle_) handle_.destroy();
    handle_ = {};
  }
  std::coroutine_handle<promise_type> handle_;
};

namespace detail {

// Starts every task with `latch` as its completion target; true if the awaiting coroutine must
// suspend (some task is still running, or for when_any, none has finished).
template <typename T>
bool start_all(std::vector<Task<T>>& tasks, Latch& latch, std::coroutine_handle<> waiter,
               bool any) {
  latch.remaining = tasks.size() + 1;  // +1 until every task has been started
  latch.any = any;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    auto& promise = tasks[i].handle().promise();
    promise.latch = &latch;
    promise.latch_index = i;
    if (tasks[i].done()) {
      if (!latch.first_done) latch.first_done = i;
      --latch.remaining;
    } else if (!promise.started) {
      promise.started = true;
      tasks[i].handle().resume();
    }
  }
  --latch.remaining;
  if (latch.remaining == 0 || (any && latch.first_done)) return false;
  latch.waiter = waiter;
  return true;
}

}  // namespace detail

// Awaits every task; returns their results in order. If any failed, rethrows the first failure
// (by position) once all have finished.
template <typename T>
class [[nodiscard]] WhenAll {
 public:
  explicit WhenAll(std::vector<Task<T>> tasks) : tasks_(std::move(tasks)) {}
  bool await_ready() const noexcept { return tasks_.empty(); }
  bool await_suspend(std::coroutine_handle<> waiter) {
    return detail::start_all(tasks_, latch_, waiter, false);
  }
  auto await_resume() {
    if constexpr (std::is_void_v<T>) {
      for (auto& task : tasks_) task.result();
    } else {
      std::vector<T> results;
      results.reserve(tasks_.size());
      for (auto& task : tasks_) results.push_back(task.result());
      return results;
    }
  }

 private:
  std::vector<Task<T>> tasks_;
  detail::Latch latch_;
};

template <typename T>
WhenAll<T> when_all(std::vector<Task<T>> tasks) {
  return WhenAll<T>(std::move(tasks));
}

// Awaits the first of `tasks` to finish; returns its index. The others keep running and may be
// awaited later; `tasks` must outlive them (when the vector goes, unfinished tasks are cancelled).
template <typename T>
class [[nodiscard]] WhenAny {
 public:
  explicit WhenAny(std::vector<Task<T>>& tasks) : tasks_(tasks) {
    if (tasks.empty()) throw std::invalid_argument("when_any needs at least one task");
  }
  WhenAny(const WhenAny&) = delete;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> waiter) {
    return detail::start_all(tasks_, latch_, waiter, true);
  }
  std::size_t await_resume() {
    // The latch dies with this awaiter: tasks still running must finish without it.
    for (auto& task : tasks_) task.handle().promise().latch = nullptr;
    return *latch_.first_done;
  }

 private:
  std::vector<Task<T>>& tasks_;
  detail::Latch latch_;
};

template <typename T>
WhenAny<T> when_any(std::vector<Task<T>>& tasks) {
  return WhenAny<T>(tasks);
}

}  // namespace sluice
