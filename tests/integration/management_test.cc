// The Durable Functions-compatible management API over real HTTP, against an engine running
// test orchestrators in this process (the sluice binary registers only the pipeline's).

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "http/client.h"
#include "tests/integration/in_process_server.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

constexpr std::string_view kPrefix = "/runtime/webhooks/durabletask/";

Task<std::string> three_calls(OrchestrationContext& ctx, std::string input) {
  std::vector<Task<std::string>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(ctx.call_activity("echo", input));
  std::vector<std::string> results = co_await when_all(std::move(calls));
  co_return "[" + results[0] + "," + results[1] + "," + results[2] + "]";
}

Task<std::string> approval(OrchestrationContext& ctx, std::string) {
  ctx.set_custom_status(R"({"waiting":true})");
  co_return co_await ctx.wait_for_event("approve");
}

// Hands process_event an input that is no event, as only code inside the engine can.
Task<std::string> hands_junk(OrchestrationContext& ctx, std::string) {
  co_return co_await ctx.call_sub_orchestrator("process_event", "42", "junk-child");
}

class ManagementTest : public ::testing::Test {
 protected:
  ManagementTest() {
    host_.registry().add_orchestrator("three_calls", three_calls);
    host_.registry().add_orchestrator("approval", approval);
    host_.registry().add_orchestrator("hands_junk", hands_junk);
    host_.registry().add_activity(
        "echo", [](ActivityContext&, std::string_view input) -> Result<std::string> {
          return std::string(input);
        });
    host_.start();
    client_ = host_.client();
  }

  http::ClientResponse call(verb method, const std::string& path, std::string_view body = {},
                            std::string_view type = {}) {
    auto response = client_->request(method, std::string(kPrefix) + path, body, type);
    EXPECT_TRUE(response.ok()) << response.status().to_string();
    return response.ok() ? std::move(response).value() : http::ClientResponse{};
  }
  json::value body(const http::ClientResponse& response) { return json::parse(response.body); }

  // Polls the status route until the instance has finished.
  json::object wait_finished(const std::string& id, const std::string& options = "") {
    json::object finished;
    const bool done = testing::eventually([&] {
      auto response = call(verb::get, "instances/" + id + options);
      EXPECT_TRUE(response.status == 200 || response.status == 202) << response.body;
      if (response.status != 200) return false;
      finished = body(response).as_object();
      return true;
    });
    EXPECT_TRUE(done) << id << " did not finish";
    return finished;
  }
  json::object wait_status(const std::string& id, std::string_view runtime_status) {
    json::object status;
    const bool reached = testing::eventually([&] {
      status = body(call(verb::get, "instances/" + id)).as_object();
      return status.at("runtimeStatus").as_string() == runtime_status;
    });
    EXPECT_TRUE(reached) << id << " never became " << runtime_status;
    return reached ? status : json::object{};
  }

  testing::TempDirectory directory_;
  testing::InProcessServer host_{directory_.str(), {{"pipeline.paused", "true"}}};
  std::unique_ptr<http::Client> client_;
};

TEST_F(ManagementTest, StartThenStatusUntilCompletedWithHistory) {
  auto started =
      call(verb::post, "orchestrators/three_calls/job-1", R"({"n":7})", "application/json");
  ASSERT_EQ(started.status, 202u) << started.body;
  json::object answer = body(started).as_object();
  EXPECT_EQ(answer.at("id"), "job-1");
  const std::string status_uri(answer.at("statusQueryGetUri").as_string());
  EXPECT_TRUE(status_uri.ends_with("/runtime/webhooks/durabletask/instances/job-1"));
  EXPECT_EQ(started.headers[boost::beast::http::field::location], status_uri);

  json::object status = wait_finished("job-1", "?showHistory=true");
  EXPECT_EQ(status.at("name"), "three_calls");
  EXPECT_EQ(status.at("instanceId"), "job-1");
  EXPECT_EQ(status.at("runtimeStatus"), "Completed");
  EXPECT_EQ(status.at("input"), json::parse(R"({"n":7})"));
  EXPECT_EQ(status.at("output"), json::parse(R"([{"n":7},{"n":7},{"n":7}])"));
  EXPECT_TRUE(status.at("createdTime").as_string().ends_with("Z"));
  int completed = 0;
  for (const auto& event : status.at("historyEvents").as_array()) {
    if (event.at("EventType") == "TaskCompleted") ++completed;
  }
  EXPECT_EQ(completed, 3);
  EXPECT_TRUE(body(call(verb::get, "instances/job-1?showInput=false")).at("input").is_null());

  auto generated = call(verb::post, "orchestrators/three_calls", "1", "application/json");
  ASSERT_EQ(generated.status, 202u);
  EXPECT_EQ(body(generated).at("id").as_string().size(), 36u);
}

TEST_F(ManagementTest, StatusCommandPrintsTheInstance) {
  ASSERT_EQ(call(verb::post, "orchestrators/three_calls/cli-1", "5").status, 202u);
  wait_finished("cli-1");
  const std::string url = host_.url();
  auto shown = testing::run_sluice({"status", "cli-1", "--url", url, "--history"});
  EXPECT_EQ(shown.exit.code, 0) << shown.output;
  json::value status = json::parse(shown.output);
  EXPECT_EQ(status.at("runtimeStatus"), "Completed");
  EXPECT_TRUE(status.as_object().contains("historyEvents"));
  auto missing = testing::run_sluice({"status", "nobody", "--url", url});
  EXPECT_EQ(missing.exit.code, 1);
  EXPECT_NE(missing.output.find("404"), std::string::npos) << missing.output;
}

TEST_F(ManagementTest, RefusesConflictsUnknownNamesAndBadInput) {
  ASSERT_EQ(call(verb::post, "orchestrators/approval/a-1").status, 202u);
  auto again = call(verb::post, "orchestrators/approval/a-1");
  EXPECT_EQ(again.status, 409u) << again.body;
  auto unknown = call(verb::post, "orchestrators/nothing/x");
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(body(unknown).at("error").at("field"), "name");
  auto bad_json = call(verb::post, "orchestrators/approval/a-2", "{not json", "application/json");
  EXPECT_EQ(bad_json.status, 400u);
  EXPECT_EQ(body(bad_json).at("error").at("field"), "body");
  auto bad_id = call(verb::post, "orchestrators/approval/a%2Fb");
  EXPECT_EQ(bad_id.status, 400u);
  EXPECT_EQ(call(verb::get, "instances/nobody").status, 404u);
  auto running = call(verb::get, "instances/a-1");
  EXPECT_EQ(running.status, 202u);
  EXPECT_FALSE(running.headers[boost::beast::http::field::location].empty());
  EXPECT_EQ(body(running).at("customStatus"), json::parse(R"({"waiting":true})"));
}

TEST_F(ManagementTest, RaiseEventTerminateSuspendResume) {
  ASSERT_EQ(call(verb::post, "orchestrators/approval/e-1").status, 202u);
  EXPECT_EQ(
      call(verb::post, "instances/e-1/raiseEvent/approve", R"("yes")", "application/json").status,
      202u);
  EXPECT_EQ(wait_finished("e-1").at("output"), "yes");
  EXPECT_EQ(call(verb::post, "instances/e-1/raiseEvent/approve", "1").status, 410u);
  EXPECT_EQ(call(verb::post, "instances/nobody/raiseEvent/approve", "1").status, 404u);

  ASSERT_EQ(call(verb::post, "orchestrators/approval/e-2").status, 202u);
  EXPECT_EQ(call(verb::post, "instances/e-2/suspend?reason=wait").status, 202u);
  wait_status("e-2", "Suspended");
  EXPECT_EQ(call(verb::post, "instances/e-2/resume?reason=go").status, 202u);
  wait_status("e-2", "Running");
  EXPECT_EQ(call(verb::post, "instances/e-2/terminate?reason=enough").status, 202u);
  json::object terminated = wait_finished("e-2");
  EXPECT_EQ(terminated.at("runtimeStatus"), "Terminated");
  EXPECT_EQ(terminated.at("output"), "enough");
}

TEST_F(ManagementTest, QueryFiltersAndPages) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(call(verb::post, "orchestrators/three_calls/q-done-" + std::to_string(i), "1").status,
              202u);
  }
  for (int i = 0; i < 5; ++i) wait_finished("q-done-" + std::to_string(i));
  ASSERT_EQ(call(verb::post, "orchestrators/approval/q-wait-0").status, 202u);

  const json::value listed_running = body(call(verb::get, "instances?runtimeStatus=Running"));
  const json::array& running = listed_running.as_array();
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].at("instanceId"), "q-wait-0");

  std::vector<std::string> seen;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    // The continuation token travels in a header, both ways.
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("x-ms-continuation-token", token);
    auto listed = client_->request(
        verb::get, std::string(kPrefix) + "instances?instanceIdPrefix=q-done-&top=2", {}, {},
        headers);
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->status, 200u) << listed->body;
    const json::value items = body(*listed);
    for (const auto& item : items.as_array()) seen.emplace_back(item.at("instanceId").as_string());
    token = std::string(listed->headers["x-ms-continuation-token"]);
    if (token.empty()) break;
  }
  EXPECT_EQ(seen,
            (std::vector<std::string>{"q-done-0", "q-done-1", "q-done-2", "q-done-3", "q-done-4"}));

  auto bad = call(verb::get, "instances?runtimeStatus=Sleeping");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(body(bad).at("error").at("field"), "runtimeStatus");
  EXPECT_EQ(body(call(verb::get, "instances?top=0")).at("error").at("field"), "top");
}

TEST_F(ManagementTest, PurgeOneAndByFilterAndOverwrite) {
  ASSERT_EQ(call(verb::post, "orchestrators/approval/p-run").status, 202u);
  EXPECT_EQ(call(verb::delete_, "instances/p-run").status, 404u);  // not finished: nothing purged
  ASSERT_EQ(call(verb::post, "orchestrators/three_calls/p-1", "1").status, 202u);
  wait_finished("p-1");
  EXPECT_EQ(call(verb::post, "orchestrators/three_calls/p-1", "2").status, 409u);
  ASSERT_EQ(call(verb::post, "orchestrators/three_calls/p-1?overwrite=true", "2").status, 202u);
  EXPECT_EQ(wait_finished("p-1").at("input"), 2);

  auto purged = call(verb::delete_, "instances/p-1");
  EXPECT_EQ(purged.status, 200u);
  EXPECT_EQ(body(purged).at("instancesDeleted"), 1);
  EXPECT_EQ(call(verb::get, "instances/p-1").status, 404u);
  EXPECT_EQ(call(verb::delete_, "instances/p-1").status, 404u);

  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(call(verb::post, "orchestrators/three_calls/f-" + std::to_string(i), "1").status,
              202u);
    wait_finished("f-" + std::to_string(i));
  }
  auto filtered = call(verb::delete_, "instances?runtimeStatus=Completed&instanceIdPrefix=f-");
  EXPECT_EQ(filtered.status, 200u) << filtered.body;
  EXPECT_EQ(body(filtered).at("instancesDeleted"), 3);
  EXPECT_EQ(call(verb::get, "instances/p-run").status, 202u);                    // untouched
  EXPECT_EQ(call(verb::delete_, "instances?instanceIdPrefix=f-").status, 404u);  // none left
}

TEST_F(ManagementTest, ProcessEventGivenNoEventFailsAtOnceAndIsDeadLettered) {
  ASSERT_EQ(call(verb::post, "orchestrators/hands_junk/junk").status, 202u);
  EXPECT_EQ(wait_finished("junk").at("runtimeStatus"), "Failed");
  EXPECT_EQ(wait_finished("junk-child").at("runtimeStatus"), "Failed");
  auto letter = client_->get("/api/deadletter/junk-child");
  ASSERT_TRUE(letter.ok());
  ASSERT_EQ(letter->status, 200u) << letter->body;
  const json::value record = json::parse(letter->body);
  EXPECT_EQ(record.at("instance_id"), "junk-child");
  EXPECT_EQ(record.at("event"), 42);  // what there was of an event
  EXPECT_EQ(record.at("error").at("code"), "InvalidArgument");
  // Retrying invalid input cannot help: the pipeline's policy (5 attempts) made one.
  EXPECT_EQ(record.at("error").at("attempts"), 1);
}

}  // namespace
}  // namespace sluice
