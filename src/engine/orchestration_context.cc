// The waits an orchestrator builds from the engine's durable primitives: retries with backoff
// timers, and event waits bounded by a timer.

#include <algorithm>
#include <cmath>

#include "sluice/orchestration.h"

namespace sluice {

Micros RetryPolicy::delay_after(int attempt) const {
  const double delay =
      static_cast<double>(first_interval) * std::pow(backoff_coefficient, attempt - 1);
  return static_cast<Micros>(std::min(delay, static_cast<double>(max_interval)));
}

bool is_permanent_failure(const TaskFailedError& failure) {
  const std::string& code = failure.code();
  return code == "InvalidArgument" || code == "NotFound" || code == "ActivityNotFound" ||
         code == "Corruption";
}

Task<std::string> OrchestrationContext::call_activity(std::string name, std::string input,
                                                      RetryPolicy retry) {
  const Micros first_attempt = now();
  for (int attempt = 1;; ++attempt) {
    const Micros attempt_began = now();
    std::optional<TaskFailedError> failure;
    try {
      co_return co_await schedule_activity(name, input);
    } catch (const TaskFailedError& error) {
      failure = error;  // a coroutine cannot co_await inside a handler; decide below
    }
    failure->set_attempts(attempt, first_attempt, attempt_began);
    if (attempt >= retry.max_attempts) throw *failure;
    if (retry.should_retry ? !retry.should_retry(*failure) : is_permanent_failure(*failure)) {
      throw *failure;
    }
    const Micros retry_at = now() + retry.delay_after(attempt);
    if (retry.timeout && retry_at > first_attempt + *retry.timeout) throw *failure;
    co_await schedule_timer(retry_at);
  }
}

Task<void> OrchestrationContext::create_timer(Micros fire_at) { co_await schedule_timer(fire_at); }

Task<std::string> OrchestrationContext::call_sub_orchestrator(std::string name, std::string input,
                                                              std::string instance_id) {
  co_return co_await schedule_sub_orchestration(std::move(name), std::move(instance_id),
                                                std::move(input));
}

Task<std::string> OrchestrationContext::wait_for_event(std::string name) {
  co_return co_await next_event(std::move(name));
}

namespace {

Task<std::string> timer_then_empty(Task<void> timer) {
  co_await timer;
  co_return std::string();
}

}  // namespace

Task<std::string> OrchestrationContext::wait_for_event(std::string name, Micros timeout) {
  std::vector<Task<std::string>> race;
  race.push_back(wait_for_event(name));
  race.push_back(timer_then_empty(create_timer(now() + timeout)));
  const std::size_t winner = co_await when_any(race);
  if (winner == 0) co_return race[0].result();
  // Returning destroys the losing wait, so a later event stays for the next wait.
  throw TaskFailedError(name, "Timeout", "no event \"" + name + "\" arrived in time");
}

}  // namespace sluice
