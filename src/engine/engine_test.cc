#include "engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "engine/activity_effects.h"
#include "storage/rocks/rocks_backend.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"

namespace sluice::engine {
namespace {

constexpr Micros kSecond = 1'000'000;

// ---- orchestrators used below (free functions: coroutine parameters are copied) ----

Task<std::string> fan_out(OrchestrationContext& ctx, std::string input) {
  const int count = std::stoi(input);
  std::vector<Task<std::string>> calls;
  for (int i = 0; i < count; ++i) calls.push_back(ctx.call_activity("echo", std::to_string(i)));
  std::vector<std::string> results = co_await when_all(std::move(calls));
  long sum = 0;
  for (const auto& result : results) sum += std::stol(result);
  co_return std::to_string(sum);
}

Task<std::string> flaky_with_retry(OrchestrationContext& ctx, std::string input) {
  RetryPolicy retry;
  retry.max_attempts = std::stoi(input);
  retry.first_interval = 1 * kSecond;
  retry.backoff_coefficient = 2.0;
  retry.max_interval = 3 * kSecond;
  co_return co_await ctx.call_activity("flaky", "", retry);
}

Task<std::string> retry_with_timeout(OrchestrationContext& ctx, std::string) {
  RetryPolicy retry{.max_attempts = 10,
                    .first_interval = 2 * kSecond,
                    .backoff_coefficient = 1.0,
                    .timeout = 5 * kSecond};
  co_return co_await ctx.call_activity("flaky", "", retry);
}

Task<std::string> retry_only_unavailable(OrchestrationContext& ctx, std::string) {
  RetryPolicy retry{.max_attempts = 10, .first_interval = kSecond};
  retry.should_retry = [](const TaskFailedError& error) { return error.code() == "Unavailable"; };
  co_return co_await ctx.call_activity("invalid", "", retry);
}

// Calls the activity its input names under a policy that says nothing of which failures to retry.
Task<std::string> default_retry(OrchestrationContext& ctx, std::string activity) {
  RetryPolicy retry{.max_attempts = 5, .first_interval = kSecond};
  co_return co_await ctx.call_activity(activity, "", retry);
}

Task<std::string> catches_failure(OrchestrationContext& ctx, std::string) {
  try {
    co_await ctx.call_activity("invalid", "");
  } catch (const TaskFailedError& error) {
    co_return "caught " + error.code();
  }
  co_return "not caught";
}

Task<std::string> approval(OrchestrationContext& ctx, std::string) {
  ctx.set_custom_status(R"({"stage":"waiting"})");
  std::string answer = co_await ctx.wait_for_event("approve");
  ctx.set_custom_status(R"({"stage":"approved"})");
  co_return answer;
}

Task<std::string> approval_with_deadline(OrchestrationContext& ctx, std::string) {
  try {
    co_return co_await ctx.wait_for_event("approve", 10 * kSecond);
  } catch (const TaskFailedError& error) {
    co_return error.code();
  }
}

Task<std::string> sleeper(OrchestrationContext& ctx, std::string) {
  const Micros started = ctx.now();
  co_await ctx.create_timer(started + 60 * kSecond);
  co_return std::to_string((ctx.now() - started) / kSecond);
}

Task<std::string> countdown(OrchestrationContext& ctx, std::string input) {
  const int left = std::stoi(input);
  if (left == 0) co_return "liftoff";
  co_await ctx.call_activity("echo", input);
  ctx.continue_as_new(std::to_string(left - 1));
  co_return "";
}

Task<std::string> deterministic_ids(OrchestrationContext& ctx, std::string) {
  std::string first = ctx.new_uuid();
  co_await ctx.call_activity("echo", "1");
  co_return first + " " + ctx.new_uuid();
}

Task<std::string> step_a_then_wait(OrchestrationContext& ctx, std::string) {
  co_await ctx.call_activity("echo", "1");
  co_return co_await ctx.wait_for_event("go");
}

Task<std::string> step_b_then_wait(OrchestrationContext& ctx, std::string) {
  co_await ctx.call_activity("effect", "1");  // changed code: another activity at step 0
  co_return co_await ctx.wait_for_event("go");
}

Task<std::string> counts_once(OrchestrationContext& ctx, std::string input) {
  std::vector<Task<std::string>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(ctx.call_activity("effect", input));
  co_await when_all(std::move(calls));
  co_return "done";
}

Task<std::string> parent(OrchestrationContext& ctx, std::string input) {
  std::string child_output = co_await ctx.call_sub_orchestrator(input, "3");
  co_return "child said " + child_output;
}

Task<std::string> parent_of_failure(OrchestrationContext& ctx, std::string) {
  try {
    co_await ctx.call_sub_orchestrator("catches_nothing", "", "named-child");
  } catch (const TaskFailedError& error) {
    co_return error.code() + ": " + error.what();
  }
  co_return "no failure";
}

Task<std::string> catches_nothing(OrchestrationContext& ctx, std::string) {
  co_return co_await ctx.call_activity("invalid", "");
}

Task<std::string> rounds(OrchestrationContext& ctx, std::string input) {
  const int left = std::stoi(input);
  if (left == 0) co_return "done";
  try {
    co_await ctx.wait_for_event("tick", 3600 * kSecond);
  } catch (const TaskFailedError&) {
    co_return "timed out with " + input + " left";
  }
  ctx.continue_as_new(std::to_string(left - 1));
  co_return "";
}

Task<std::string> parent_named(OrchestrationContext& ctx, std::string child_id) {
  try {
    co_return co_await ctx.call_sub_orchestrator("approval", "", child_id);
  } catch (const TaskFailedError& error) {
    co_return error.code() + ": " + error.what();
  }
}

Task<std::string> local_fan_out(OrchestrationContext& ctx, std::string) {
  std::vector<Task<std::string>> calls;
  for (const char* input : {"a", "b", "c"}) calls.push_back(ctx.call_activity("local", input));
  std::vector<std::string> results = co_await when_all(std::move(calls));
  co_return results[0] + results[1] + results[2];
}

Task<std::string> local_loop(OrchestrationContext& ctx, std::string input) {
  const int count = std::stoi(input);
  std::string out;
  for (int i = 0; i < count; ++i) out = co_await ctx.call_activity("local", std::to_string(i));
  co_return out;
}

Task<std::string> local_flaky_with_retry(OrchestrationContext& ctx, std::string) {
  RetryPolicy retry{.max_attempts = 5, .first_interval = kSecond};
  co_return co_await ctx.call_activity("local_flaky", "", retry);
}

// ---- fixture ----

Task<std::string> async_pair(OrchestrationContext& ctx, std::string) {
  std::vector<Task<std::string>> calls;
  calls.push_back(ctx.call_activity("later", "a"));
  calls.push_back(ctx.call_activity("later", "b"));
  std::vector<std::string> results = co_await when_all(std::move(calls));
  co_return results[0] + results[1];
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    registry_.add_orchestrator("fan_out", fan_out);
    registry_.add_orchestrator("flaky_with_retry", flaky_with_retry);
    registry_.add_orchestrator("retry_with_timeout", retry_with_timeout);
    registry_.add_orchestrator("retry_only_unavailable", retry_only_unavailable);
    registry_.add_orchestrator("catches_failure", catches_failure);
    registry_.add_orchestrator("default_retry", default_retry);
    registry_.add_orchestrator("approval", approval);
    registry_.add_orchestrator("approval_with_deadline", approval_with_deadline);
    registry_.add_orchestrator("sleeper", sleeper);
    registry_.add_orchestrator("countdown", countdown);
    registry_.add_orchestrator("deterministic_ids", deterministic_ids);
    registry_.add_orchestrator("diverging", step_a_then_wait);
    registry_.add_orchestrator("counts_once", counts_once);
    registry_.add_orchestrator("parent", parent);
    registry_.add_orchestrator("rounds", rounds);
    registry_.add_orchestrator("parent_named", parent_named);
    registry_.add_orchestrator("parent_of_failure", parent_of_failure);
    registry_.add_orchestrator("catches_nothing", catches_nothing);
    registry_.add_orchestrator("async_pair", async_pair);
    registry_.add_orchestrator("local_fan_out", local_fan_out);
    registry_.add_orchestrator("local_loop", local_loop);
    registry_.add_orchestrator("local_flaky_with_retry", local_flaky_with_retry);
    registry_.add_local_activity(
        "local", [](ActivityContext& ctx, std::string_view input) -> Result<std::string> {
          mutation_of(ctx.effects()).add("local-effects", 1);
          return std::string(input);
        });
    registry_.add_orchestrator("local_mark", [](OrchestrationContext& ctx, std::string) {
      return ctx.call_activity("mark", "");
    });
    registry_.add_local_activity(
        "mark", [](ActivityContext& ctx, std::string_view) -> Result<std::string> {
          mutation_of(ctx.effects()).put(storage::Table::kMeta, "mark", "written by the run");
          return std::string("marked");
        });
    // Writes its effect on every attempt; only the successful one may commit it.
    registry_.add_local_activity(
        "local_flaky", [this](ActivityContext& ctx, std::string_view) -> Result<std::string> {
          mutation_of(ctx.effects()).add("local-effects", 1);
          if (++flaky_calls_ <= flaky_failures_) return unavailable("not yet");
          return std::string("finally");
        });
    // Finishes only when the test says so, from the test's thread.
    registry_.add_async_activity(
        "later", [this](ActivityContext& ctx, std::string_view input, ActivityDone done) {
          mutation_of(ctx.effects()).add("later-effects", 1);
          std::lock_guard lock(later_mutex_);
          later_.emplace_back(std::string(input), std::move(done));
        });
    registry_.add_activity("echo",
                           [](ActivityContext&, std::string_view input) -> Result<std::string> {
                             return std::string(input);
                           });
    registry_.add_activity("flaky",
                           [this](ActivityContext&, std::string_view) -> Result<std::string> {
                             if (++flaky_calls_ <= flaky_failures_) return unavailable("not yet");
                             return std::string("finally");
                           });
    registry_.add_activity("invalid",
                           [](ActivityContext&, std::string_view) -> Result<std::string> {
                             return invalid_argument("bad input");
                           });
    registry_.add_activity("effect",
                           [this](ActivityContext& ctx, std::string_view) -> Result<std::string> {
                             ++effect_runs_;
                             mutation_of(ctx.effects()).add("effects", 1);
                             std::unique_lock lock(hold_mutex_);
                             hold_released_.wait(lock, [this] { return !hold_effects_; });
                             return std::string("ok");
                           });
    open();
  }
  ~EngineTest() override { close(); }

  void open() {
    backend_ = storage::RocksBackend::open(directory_.str()).value();
    engine_ = std::make_unique<Engine>(*backend_, clock_, registry_, EngineOptions{});
    ASSERT_TRUE(engine_->start().ok());
  }
  void close() {
    release_effects();
    engine_.reset();
    backend_.reset();
  }
  void hold(bool on) {
    std::lock_guard lock(hold_mutex_);
    hold_effects_ = on;
  }
  void release_effects() {
    {
      std::lock_guard lock(hold_mutex_);
      hold_effects_ = false;
    }
    hold_released_.notify_all();
  }

  Status start(const std::string& name, const std::string& id, const std::string& input = "",
               bool replace = false) {
    return engine_->start_instance_and_wait({name, id, input, replace});
  }

  // Polls storage until `id` satisfies `done`; fails the test after a minute.
  InstanceRecord wait_until(const std::string& id,
                            const std::function<bool(const InstanceRecord&)>& done) {
    InstanceRecord reached;
    const bool ok = testing::eventually([&] {
      auto record = engine_->instance(id, /*with_input=*/true);
      if (!record.ok() || !*record || !done(**record)) return false;
      reached = std::move(**record);
      return true;
    });
    EXPECT_TRUE(ok) << "instance " << id << " did not reach the expected state";
    return reached;
  }
  InstanceRecord wait_finished(const std::string& id) {
    return wait_until(id, [](const InstanceRecord& r) { return is_terminal(r.status); });
  }
  // Waits until the history holds `count` events of `type`.
  std::vector<HistoryEvent> wait_for_events(const std::string& id, EventType type, size_t count) {
    std::vector<HistoryEvent> matching;
    const bool ok = testing::eventually([&] {
      matching.clear();
      for (auto& event : engine_->history(id).value()) {
        if (event.type == type) matching.push_back(event);
      }
      return matching.size() >= count;
    });
    EXPECT_TRUE(ok) << "history of " << id << " never had " << count << " "
                    << event_type_name(type);
    return ok ? matching : std::vector<HistoryEvent>{};
  }
  void advance(Micros by) {
    clock_.advance(by);
    engine_->wake();
  }

  testing::TempDirectory directory_;
  ManualClock clock_{1'800'000'000'000'000};
  Registry registry_;
  std::unique_ptr<storage::RocksBackend> backend_;
  std::unique_ptr<Engine> engine_;
  std::atomic<int> flaky_calls_{0};
  int flaky_failures_ = 0;
  std::atomic<int> effect_runs_{0};
  std::mutex hold_mutex_;
  std::condition_variable hold_released_;
  bool hold_effects_ = false;  // guarded by hold_mutex_
  std::mutex later_mutex_;
  std::vector<std::pair<std::string, ActivityDone>> later_;  // guarded by later_mutex_

  // Waits until `count` asynchronous "later" calls are outstanding and takes them.
  std::vector<std::pair<std::string, ActivityDone>> take_later(size_t count) {
    std::vector<std::pair<std::string, ActivityDone>> taken;
    const bool ok = testing::eventually([&] {
      std::lock_guard lock(later_mutex_);
      if (later_.size() < count) return false;
      taken = std::exchange(later_, {});
      return true;
    });
    EXPECT_TRUE(ok) << count << " asynchronous calls never arrived";
    return taken;
  }
};

TEST_F(EngineTest, FansOutAndInOverAThousandActivities) {
  ASSERT_TRUE(start("fan_out", "big", "1000").ok());
  InstanceRecord record = wait_finished("big");
  EXPECT_EQ(record.status, RuntimeStatus::kCompleted);
  EXPECT_EQ(record.output, "499500");
  auto history = engine_->history("big").value();
  EXPECT_EQ(std::count_if(history.begin(), history.end(),
                          [](auto& e) { return e.type == EventType::kTaskCompleted; }),
            1000);
  EXPECT_EQ(history.front().type, EventType::kOrchestratorStarted);
  EXPECT_EQ(history.back().type, EventType::kExecutionCompleted);
  // The finished record can be read just before its turn's commit is on disk; the partition lets
  // the instance go once it is.
  EXPECT_TRUE(testing::eventually([&] { return engine_->active_instances() == 0; }))
      << engine_->active_instances() << " still active";
}

TEST_F(EngineTest, AsynchronousActivitiesHoldNoWorker) {
  ASSERT_TRUE(start("async_pair", "pair").ok());
  auto calls = take_later(2);
  // Both calls are out, yet the workers are free: another instance runs to the end meanwhile.
  ASSERT_TRUE(start("fan_out", "meanwhile", "10").ok());
  EXPECT_EQ(wait_finished("meanwhile").output, "45");
  EXPECT_EQ(engine_->instance("pair").value()->status, RuntimeStatus::kRunning);

  std::thread finisher([&calls] {
    for (auto& [input, done] : calls) {
      done(input + "!");
      done(std::string("again"));  // a second answer to one attempt is ignored
    }
  });
  finisher.join();
  InstanceRecord record = wait_finished("pair");
  EXPECT_EQ(record.status, RuntimeStatus::kCompleted);
  EXPECT_EQ(record.output, "a!b!");
  EXPECT_EQ(backend_->counter("later-effects").value(), 2);
}

TEST_F(EngineTest, AsynchronousResultAfterStopIsDroppedAndRedoneOnRestart) {
  ASSERT_TRUE(start("async_pair", "pair").ok());
  auto first = take_later(2);
  close();
  for (auto& [input, done] : first) done(std::string("too late"));  // reaches no one
  open();
  auto second = take_later(2);  // recovery dispatched both again
  for (auto& [input, done] : second) done(input);
  EXPECT_EQ(wait_finished("pair").output, "ab");
  EXPECT_EQ(backend_->counter("later-effects").value(), 2);
}

TEST_F(EngineTest, RetriesWithBackoffCappedByMaxInterval) {
  flaky_failures_ = 3;
  ASSERT_TRUE(start("flaky_with_retry", "r1", "5").ok());
  const Micros t0 = clock_.now();
  auto timers = wait_for_events("r1", EventType::kTimerCreated, 1);
  EXPECT_EQ(timers[0].fire_at, t0 + 1 * kSecond);
  advance(1 * kSecond);
  timers = wait_for_events("r1", EventType::kTimerCreated, 2);
  EXPECT_EQ(timers[1].fire_at, t0 + 1 * kSecond + 2 * kSecond);
  advance(2 * kSecond);
  timers = wait_for_events("r1", EventType::kTimerCreated, 3);
  // 4 s by backoff, capped at 3 s.
  EXPECT_EQ(timers[2].fire_at, t0 + 3 * kSecond + 3 * kSecond);
  EXPECT_EQ(engine_->instance("r1").value()->status, RuntimeStatus::kRunning);
  advance(3 * kSecond);
  InstanceRecord record = wait_finished("r1");
  EXPECT_EQ(record.status, RuntimeStatus::kCompleted);
  EXPECT_EQ(record.output, "finally");
  EXPECT_EQ(flaky_calls_, 4);
}

TEST_F(EngineTest, GivesUpAfterMaxAttempts) {
  flaky_failures_ = 100;
  ASSERT_TRUE(start("flaky_with_retry", "r2", "2").ok());
  wait_for_events("r2", EventType::kTimerCreated, 1);
  advance(1 * kSecond);
  InstanceRecord record = wait_finished("r2");
  EXPECT_EQ(record.status, RuntimeStatus::kFailed);
  EXPECT_NE(record.output.find("not yet"), std::string::npos) << record.output;
  EXPECT_EQ(flaky_calls_, 2);
}

TEST_F(EngineTest, StopsRetryingAtTheOverallTimeout) {
  flaky_failures_ = 100;
  ASSERT_TRUE(start("retry_with_timeout", "r3").ok());
  wait_for_events("r3", EventType::kTimerCreated, 1);
  advance(2 * kSecond);
  wait_for_events("r3", EventType::kTimerCreated, 2);
  advance(2 * kSecond);
  // A third wait would end at 6 s, past the 5 s timeout.
  EXPECT_EQ(wait_finished("r3").status, RuntimeStatus::kFailed);
  EXPECT_EQ(flaky_calls_, 3);
}

TEST_F(EngineTest, NonRetryableFailureFailsAtOnceAndCanBeCaught) {
  ASSERT_TRUE(start("retry_only_unavailable", "n1").ok());
  InstanceRecord record = wait_finished("n1");
  EXPECT_EQ(record.status, RuntimeStatus::kFailed);
  EXPECT_NE(record.output.find("bad input"), std::string::npos);
  ASSERT_TRUE(start("catches_failure", "n2").ok());
  EXPECT_EQ(wait_finished("n2").output, "caught InvalidArgument");
}

TEST_F(EngineTest, TheDefaultPolicyRetriesNoFailureThatCannotPass) {
  // Invalid input, and an activity nobody registered. The clock never moves here: a retry would
  // wait for its timer forever.
  for (const char* activity : {"invalid", "unregistered"}) {
    const std::string id = std::string("p-") + activity;
    ASSERT_TRUE(start("default_retry", id, activity).ok());
    InstanceRecord record = wait_finished(id);
    EXPECT_EQ(record.status, RuntimeStatus::kFailed) << activity;
    const std::vector<HistoryEvent> history = engine_->history(id).value();
    EXPECT_EQ(
        std::count_if(history.begin(), history.end(),
                      [](const HistoryEvent& e) { return e.type == EventType::kTimerCreated; }),
        0)
        << activity;
  }
  // A transient failure is still retried.
  flaky_failures_ = 1;
  ASSERT_TRUE(start("default_retry", "p-flaky", "flaky").ok());
  wait_for_events("p-flaky", EventType::kTimerCreated, 1);
  advance(kSecond);
  EXPECT_EQ(wait_finished("p-flaky").output, "finally");
}

TEST_F(EngineTest, ExternalEventsAndCustomStatus) {
  ASSERT_TRUE(engine_->raise_event_and_wait("nobody", "approve", "x").code() ==
              StatusCode::kNotFound);
  ASSERT_TRUE(start("approval", "a1").ok());
  EXPECT_EQ(wait_until("a1", [](auto& r) { return !r.custom_status.empty(); }).custom_status,
            R"({"stage":"waiting"})");
  ASSERT_TRUE(engine_->raise_event_and_wait("a1", "approve", R"("yes")").ok());
  InstanceRecord record = wait_finished("a1");
  EXPECT_EQ(record.output, R"("yes")");
  EXPECT_EQ(record.custom_status, R"({"stage":"approved"})");
}

TEST_F(EngineTest, EventWaitTimesOutOnADurableTimer) {
  ASSERT_TRUE(start("approval_with_deadline", "d1").ok());
  wait_for_events("d1", EventType::kTimerCreated, 1);
  advance(10 * kSecond);
  EXPECT_EQ(wait_finished("d1").output, "Timeout");

  ASSERT_TRUE(start("approval_with_deadline", "d2").ok());
  wait_for_events("d2", EventType::kTimerCreated, 1);
  ASSERT_TRUE(engine_->raise_event_and_wait("d2", "approve", "in time").ok());
  EXPECT_EQ(wait_finished("d2").output, "in time");
}

TEST_F(EngineTest, TimersSurviveRestart) {
  ASSERT_TRUE(start("sleeper", "t1").ok());
  wait_for_events("t1", EventType::kTimerCreated, 1);
  close();
  clock_.advance(61 * kSecond);
  open();
  InstanceRecord record = wait_finished("t1");
  EXPECT_EQ(record.status, RuntimeStatus::kCompleted);
  EXPECT_EQ(record.output, "61");  // now() in the step the timer fired
}

TEST_F(EngineTest, ContinueAsNewStartsAFreshHistory) {
  ASSERT_TRUE(start("countdown", "c1", "3").ok());
  InstanceRecord record = wait_finished("c1");
  EXPECT_EQ(record.status, RuntimeStatus::kCompleted);
  EXPECT_EQ(record.output, "liftoff");
  EXPECT_EQ(record.input, "0");
  auto history = engine_->history("c1").value();
  EXPECT_EQ(std::count_if(history.begin(), history.end(),
                          [](auto& e) { return e.type == EventType::kExecutionStarted; }),
            1);
}

TEST_F(EngineTest, StartingAnExistingIdIsRefusedUnlessReplacingAFinishedOne) {
  ASSERT_TRUE(start("approval", "s1").ok());
  EXPECT_EQ(start("approval", "s1").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(start("approval", "s1", "", true).code(), StatusCode::kAlreadyExists);  // running
  ASSERT_TRUE(engine_->raise_event_and_wait("s1", "approve", "1").ok());
  wait_finished("s1");
  EXPECT_EQ(start("approval", "s1").code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(start("approval", "s1", "", true).ok());
  EXPECT_EQ(wait_until("s1", [](auto& r) { return !r.custom_status.empty(); }).status,
            RuntimeStatus::kRunning);
}

TEST_F(EngineTest, TerminateSuspendAndResume) {
  ASSERT_TRUE(start("approval", "m1").ok());
  ASSERT_TRUE(engine_->terminate_and_wait("m1", "no longer needed").ok());
  InstanceRecord terminated = wait_finished("m1");
  EXPECT_EQ(terminated.status, RuntimeStatus::kTerminated);
  EXPECT_EQ(terminated.output, "no longer needed");

  ASSERT_TRUE(start("approval", "m2").ok());
  std::promise<Status> suspended;
  engine_->suspend("m2", "hold", [&](Status s) { suspended.set_value(s); });
  ASSERT_TRUE(suspended.get_future().get().ok());
  EXPECT_EQ(engine_->instance("m2").value()->status, RuntimeStatus::kSuspended);
  ASSERT_TRUE(engine_->raise_event_and_wait("m2", "approve", "while suspended").ok());
  EXPECT_EQ(engine_->instance("m2").value()->status, RuntimeStatus::kSuspended);

  // The held event survives a restart and is delivered on resume.
  close();
  open();
  std::promise<Status> resumed;
  engine_->resume("m2", "go", [&](Status s) { resumed.set_value(s); });
  ASSERT_TRUE(resumed.get_future().get().ok());
  EXPECT_EQ(wait_finished("m2").output, "while suspended");
}

TEST_F(EngineTest, ReplayIsDeterministic) {
  ASSERT_TRUE(start("deterministic_ids", "u1").ok());
  const std::string first_run = wait_finished("u1").output;
  ASSERT_TRUE(start("deterministic_ids", "u1", "", true).ok());
  EXPECT_EQ(wait_finished("u1").output, first_run);
  EXPECT_NE(first_run.substr(0, 36), first_run.substr(37));
}

TEST_F(EngineTest, ChangedCodeFailsTheInstanceNamingTheStepAndOthersCarryOn) {
  ASSERT_TRUE(start("diverging", "v1").ok());
  wait_for_events("v1", EventType::kTaskCompleted, 1);
  close();
  registry_.add_orchestrator("diverging", step_b_then_wait);
  open();
  InstanceRecord record = wait_finished("v1");
  EXPECT_EQ(record.status, RuntimeStatus::kFailed);
  EXPECT_NE(record.output.find("step 0"), std::string::npos) << record.output;
  EXPECT_NE(record.output.find("\"echo\""), std::string::npos) << record.output;
  EXPECT_NE(record.output.find("\"effect\""), std::string::npos) << record.output;
  ASSERT_TRUE(start("fan_out", "other", "3").ok());
  EXPECT_EQ(wait_finished("other").status, RuntimeStatus::kCompleted);
}

TEST_F(EngineTest, SubOrchestrationsReturnTheirOutputOrFailure) {
  ASSERT_TRUE(start("parent", "p1", "fan_out").ok());
  EXPECT_EQ(wait_finished("p1").output, "child said 3");
  InstanceRecord child = wait_finished("p1:0");  // derived, deterministic child id
  EXPECT_EQ(child.status, RuntimeStatus::kCompleted);
  EXPECT_EQ(child.parent_id, "p1");

  ASSERT_TRUE(start("parent_of_failure", "p2").ok());
  InstanceRecord record = wait_finished("p2");
  EXPECT_EQ(record.status, RuntimeStatus::kCompleted);
  EXPECT_TRUE(record.output.starts_with("SubOrchestrationFailed: ")) << record.output;
  EXPECT_NE(record.output.find("bad input"), std::string::npos) << record.output;
  EXPECT_EQ(wait_finished("named-child").status, RuntimeStatus::kFailed);
}

TEST_F(EngineTest, ParentAndChildSurviveRestart) {
  ASSERT_TRUE(start("parent", "p3", "approval").ok());
  wait_until("p3:0", [](auto& r) { return !r.custom_status.empty(); });  // child is waiting
  close();
  open();
  ASSERT_TRUE(engine_->raise_event_and_wait("p3:0", "approve", "ok").ok());
  EXPECT_EQ(wait_finished("p3").output, "child said ok");
}

TEST_F(EngineTest, InstancesInFlightAreBounded) {
  close();
  backend_ = storage::RocksBackend::open(directory_.str()).value();
  engine_ = std::make_unique<Engine>(*backend_, clock_, registry_,
                                     EngineOptions{.partitions = 1, .max_active_instances = 2});
  ASSERT_TRUE(engine_->start().ok());
  ASSERT_TRUE(start("approval", "b1").ok());
  ASSERT_TRUE(start("approval", "b2").ok());
  EXPECT_EQ(start("approval", "b3").code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(engine_->raise_event_and_wait("b1", "approve", "1").ok());
  wait_finished("b1");
  EXPECT_TRUE(start("approval", "b3").ok());  // room again
}

TEST_F(EngineTest, ALateTimerOfAnEarlierRunDoesNotFireIntoTheNextRun) {
  ASSERT_TRUE(start("rounds", "g1", "2").ok());
  wait_for_events("g1", EventType::kTimerCreated, 1);  // run 1's deadline: t0 + 1 h
  advance(1800 * kSecond);
  ASSERT_TRUE(engine_->raise_event_and_wait("g1", "tick", "").ok());
  wait_until("g1", [](auto& r) { return r.input == "1"; });  // run 2's deadline: t0 + 1.5 h
  wait_for_events("g1", EventType::kTimerCreated, 1);
  advance(1860 * kSecond);  // past run 1's deadline only
  // This request's turn also takes the due timer, so it has been handled once this returns.
  ASSERT_TRUE(engine_->raise_event_and_wait("g1", "unrelated", "").ok());
  EXPECT_EQ(engine_->instance("g1").value()->status, RuntimeStatus::kRunning);
  ASSERT_TRUE(engine_->raise_event_and_wait("g1", "tick", "").ok());
  EXPECT_EQ(wait_finished("g1").output, "done");
}

TEST_F(EngineTest, ResultsHeldWhileSuspendedAreNotRedoneAfterRestart) {
  hold(true);
  ASSERT_TRUE(start("counts_once", "h1").ok());
  while (effect_runs_ < 2) std::this_thread::yield();
  std::promise<Status> suspended;
  engine_->suspend("h1", "", [&](Status s) { suspended.set_value(s); });
  ASSERT_TRUE(suspended.get_future().get().ok());
  release_effects();
  wait_for_events("h1", EventType::kTaskCompleted, 3);  // recorded, held by the suspension
  close();
  open();
  std::promise<Status> resumed;
  engine_->resume("h1", "", [&](Status s) { resumed.set_value(s); });
  ASSERT_TRUE(resumed.get_future().get().ok());
  EXPECT_EQ(wait_finished("h1").status, RuntimeStatus::kCompleted);
  EXPECT_EQ(effect_runs_, 3);  // no activity ran again after the restart
  EXPECT_EQ(backend_->counter("effects").value(), 3);
}

TEST_F(EngineTest, APartitionGivenUpRefusesItsInstancesUntilTakenAgainWhichRecoversThem) {
  // Two instances, one in each of the two partitions.
  std::string here = "w0";
  std::string moved = "w1";
  for (int i = 1; engine_->partition_of(moved) == engine_->partition_of(here); ++i) {
    moved = "w" + std::to_string(i);
  }
  ASSERT_TRUE(start("approval", here).ok());
  ASSERT_TRUE(start("approval", moved).ok());
  const std::array<unsigned, 1> partition = {engine_->partition_of(moved)};

  engine_->give_up(partition);
  EXPECT_FALSE(engine_->runs(partition[0]));
  const Status refused = engine_->raise_event_and_wait(moved, "approve", "no");
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.to_string();
  EXPECT_NE(refused.message().find("partition"), std::string::npos) << refused.to_string();
  EXPECT_EQ(start("approval", moved + "-new").code() == StatusCode::kUnavailable,
            engine_->partition_of(moved + "-new") == partition[0]);
  ASSERT_TRUE(engine_->raise_event_and_wait(here, "approve", "here").ok());
  EXPECT_EQ(wait_finished(here).output, "here");

  ASSERT_TRUE(engine_->take(partition).ok());
  EXPECT_TRUE(engine_->runs(partition[0]));
  ASSERT_TRUE(engine_->raise_event_and_wait(moved, "approve", "back").ok());
  EXPECT_EQ(wait_finished(moved).output, "back");
}

TEST_F(EngineTest, AnActivityThatEndsAfterItsPartitionMovedCountsOnce) {
  hold(true);
  ASSERT_TRUE(start("counts_once", "m1").ok());
  while (effect_runs_ < 2) std::this_thread::yield();  // both workers are inside an activity
  const std::array<unsigned, 1> partition = {engine_->partition_of("m1")};
  engine_->give_up(partition);
  ASSERT_TRUE(engine_->take(partition).ok());  // dispatches the three activities again
  release_effects();
  EXPECT_EQ(wait_finished("m1").status, RuntimeStatus::kCompleted);
  EXPECT_GT(effect_runs_, 3);  // the first two ran twice
  EXPECT_EQ(backend_->counter("effects").value(), 3);
}

TEST_F(EngineTest, AChildThatCannotStartFailsTheParentsCall) {
  ASSERT_TRUE(start("approval", "busy").ok());  // an unrelated instance holds the id
  ASSERT_TRUE(start("parent_named", "pn", "busy").ok());
  InstanceRecord record = wait_finished("pn");
  EXPECT_TRUE(record.output.starts_with("SubOrchestrationFailed: ")) << record.output;
  EXPECT_NE(record.output.find("exists"), std::string::npos) << record.output;
}

TEST_F(EngineTest, RetentionPurgesOnlyFinishedInstancesPastThePeriod) {
  close();
  backend_ = storage::RocksBackend::open(directory_.str()).value();
  engine_ = std::make_unique<Engine>(*backend_, clock_, registry_,
                                     EngineOptions{.retention = 3600 * kSecond});
  ASSERT_TRUE(engine_->start().ok());
  ASSERT_TRUE(start("fan_out", "old", "2").ok());
  wait_finished("old");
  ASSERT_TRUE(start("approval", "running").ok());
  clock_.advance(3000 * kSecond);
  ASSERT_TRUE(start("fan_out", "recent", "2").ok());
  wait_finished("recent");
  clock_.advance(601 * kSecond);  // "old" finished 3,601 s ago, "recent" 601 s ago

  EXPECT_EQ(engine_->purge_expired().value(), 1u);
  EXPECT_FALSE(engine_->instance("old").value().has_value());
  EXPECT_TRUE(engine_->history("old").value().empty());
  EXPECT_TRUE(engine_->instance("recent").value().has_value());
  EXPECT_TRUE(engine_->instance("running").value().has_value());
}

TEST_F(EngineTest, RestartMidFanOutCompletesOnceWithEffectsAppliedOnce) {
  hold(true);  // activities start, then hang until the engine is gone
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(start("counts_once", "e" + std::to_string(i)).ok());
  while (effect_runs_ < 2) std::this_thread::yield();
  close();  // results of the held activities never reach a commit
  effect_runs_ = 0;
  open();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(wait_finished("e" + std::to_string(i)).status, RuntimeStatus::kCompleted);
  }
  EXPECT_EQ(backend_->counter("effects").value(), 60);  // 20 instances × 3 activities, once each
}

TEST_F(EngineTest, LocalActivitiesFinishInTheTurnThatSchedulesThem) {
  ASSERT_TRUE(start("local_fan_out", "local").ok());
  // The start's reply comes after its turn committed; that turn already ran the activities.
  auto record = engine_->instance("local").value();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->status, RuntimeStatus::kCompleted);
  EXPECT_EQ(record->output, "abc");
  EXPECT_EQ(backend_->counter("local-effects").value(), 3);
  EXPECT_EQ(engine_->active_instances(), 0u);
  auto history = engine_->history("local").value();
  EXPECT_EQ(std::count_if(history.begin(), history.end(),
                          [](auto& e) { return e.type == EventType::kTaskCompleted; }),
            3);
  EXPECT_EQ(history.back().type, EventType::kExecutionCompleted);
  // Nothing is left for recovery: a restart finds the instance finished and changes nothing.
  close();
  open();
  EXPECT_EQ(engine_->history("local").value().size(), history.size());
  EXPECT_EQ(backend_->counter("local-effects").value(), 3);
}

TEST_F(EngineTest, ARunFinishedInOneTurnIsOneRecordAndReadsLikeAnyOther) {
  ASSERT_TRUE(start("local_fan_out", "one", "the input").ok());
  auto record = engine_->instance("one", /*with_input=*/true).value();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->status, RuntimeStatus::kCompleted);
  EXPECT_EQ(record->input, "the input");
  EXPECT_EQ(record->history_chunks, 0u);
  EXPECT_TRUE(record->history.empty());  // read with history()
  auto chunks = backend_->scan(storage::Table::kHistory, {.prefix = history_prefix("one")});
  EXPECT_TRUE(chunks.value().empty());
  auto history = engine_->history("one").value();
  ASSERT_GE(history.size(), 3u);
  EXPECT_EQ(history[1].type, EventType::kExecutionStarted);
  EXPECT_EQ(history.back().type, EventType::kExecutionCompleted);

  // Replaced by a run that takes more than one turn, it is chunks again, and nothing old shows.
  ASSERT_TRUE(start("approval", "one", "", true).ok());
  record = wait_until("one", [](auto& r) { return !r.custom_status.empty(); });
  EXPECT_EQ(record->history_chunks, 1u);
  history = engine_->history("one").value();
  EXPECT_EQ(std::count_if(history.begin(), history.end(),
                          [](auto& e) { return e.type == EventType::kExecutionStarted; }),
            1);
  EXPECT_EQ(history[1].name, "approval");
}

TEST_F(EngineTest, LocalActivitiesBeyondOneTurnsShareGoToTheWorkers) {
  ASSERT_TRUE(start("local_loop", "loop", "300").ok());
  InstanceRecord record = wait_finished("loop");
  EXPECT_EQ(record.status, RuntimeStatus::kCompleted);
  EXPECT_EQ(record.output, "299");
  EXPECT_EQ(backend_->counter("local-effects").value(), 300);
  // Each turn is one history chunk: 64 calls in the first, then a worker's result and 64 more
  // in each of the next — not all 300 in one turn.
  EXPECT_GE(record.history_chunks, 5u);
}

TEST_F(EngineTest, AFailedLocalActivityIsRetriedAndOnlyTheSuccessfulAttemptsEffectsCommit) {
  flaky_failures_ = 2;
  ASSERT_TRUE(start("local_flaky_with_retry", "lf").ok());
  wait_for_events("lf", EventType::kTaskFailed, 1);
  advance(kSecond);
  wait_for_events("lf", EventType::kTaskFailed, 2);
  advance(2 * kSecond);
  InstanceRecord record = wait_finished("lf");
  EXPECT_EQ(record.status, RuntimeStatus::kCompleted);
  EXPECT_EQ(record.output, "finally");
  EXPECT_EQ(flaky_calls_, 3);
  EXPECT_EQ(backend_->counter("local-effects").value(), 1);
}

TEST_F(EngineTest, AStartsOwnEffectsCommitBeforeWhatItsLocalActivitiesWrite) {
  // As a dead-letter replay: the start erases the old record, and its run may write a new one
  // under the same key in the same commit. The run's write must be the one that stays.
  storage::Mutation old_record;
  old_record.put(storage::Table::kMeta, "mark", "old");
  ASSERT_TRUE(backend_->commit(old_record).ok());
  storage::Mutation start_effects;
  start_effects.erase(storage::Table::kMeta, "mark");
  std::promise<Status> started;
  engine_->start_instance(
      {"local_mark", "marked"}, [&started](Status status) { started.set_value(status); },
      std::move(start_effects));
  ASSERT_TRUE(started.get_future().get().ok());
  EXPECT_EQ(engine_->instance("marked").value()->status, RuntimeStatus::kCompleted);
  EXPECT_EQ(backend_->get(storage::Table::kMeta, "mark").value(), "written by the run");
}

}  // namespace
}  // namespace sluice::engine

namespace sluice::engine {
namespace {

TEST_F(EngineTest, OfChangesRestingOnOneValueOnlyOneApplies) {
  // As two requests that both read one dead letter, then try to replay or delete it.
  storage::Mutation letter;
  letter.put(storage::Table::kMeta, "letter", "v1");
  letter.add("letters", 1);
  ASSERT_TRUE(backend_->commit(letter).ok());
  const Expectation as_read{storage::Table::kMeta, "letter", "v1"};
  auto removal = [] {
    storage::Mutation mutation;
    mutation.erase(storage::Table::kMeta, "letter");
    mutation.add("letters", -1);
    return mutation;
  };
  // Many at once, so that several meet in one turn of the partition and others in later turns.
  constexpr int kChanges = 16;
  std::vector<std::promise<Status>> answers(kChanges);
  for (int i = 0; i < kChanges; ++i) {
    Reply reply = [&answer = answers[i]](Status status) { answer.set_value(std::move(status)); };
    if (i % 2 == 0) {
      engine_->commit_if("letter:replay-1", {as_read}, removal(), std::move(reply));
    } else {
      engine_->start_instance({"local_mark", "letter:replay-1"}, std::move(reply), removal(),
                              {as_read});
    }
  }
  int applied = 0;
  for (auto& answer : answers) {
    const Status status = answer.get_future().get();
    if (status.ok()) {
      ++applied;
    } else {
      EXPECT_TRUE(status.code() == StatusCode::kFailedPrecondition ||
                  status.code() == StatusCode::kAlreadyExists)
          << status.to_string();
    }
  }
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(backend_->counter("letters").value(), 0);
  EXPECT_FALSE(backend_->get(storage::Table::kMeta, "letter").value().has_value());
}

TEST_F(EngineTest, AStartRestingOnAValueThatChangedIsRefusedAndWritesNothing) {
  storage::Mutation letter;
  letter.put(storage::Table::kMeta, "letter", "v2");
  ASSERT_TRUE(backend_->commit(letter).ok());
  storage::Mutation effects;
  effects.add("letters", -1);
  std::promise<Status> answer;
  engine_->start_instance({"local_mark", "stale"},
                          [&answer](Status status) { answer.set_value(std::move(status)); },
                          std::move(effects), {{storage::Table::kMeta, "letter", "v1"}});
  EXPECT_EQ(answer.get_future().get().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(engine_->instance("stale").value().has_value());
  EXPECT_EQ(backend_->counter("letters").value(), 0);
}

}  // namespace
}  // namespace sluice::engine
