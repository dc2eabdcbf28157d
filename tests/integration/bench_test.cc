// `sluice bench` and GET /metrics against the real binary: the benchmark starts its own server or
// uses one at --url, sends again what a lost connection carried, and reports figures that agree
// with what the server counted; the metrics count what was accepted and finished.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <map>
#include <memory>

#include "http/client.h"
#include "pipeline/traffic.h"
#include "tests/integration/server_process.h"
#include "tests/support/metric_samples.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;

// The benchmark's --json report: the last line of its output.
json::object report(const std::string& output) {
  const std::size_t start = output.rfind("\n{");
  boost::system::error_code error;
  json::value parsed =
      json::parse(output.substr(start == std::string::npos ? 0 : start + 1), error);
  EXPECT_FALSE(error) << output;
  return parsed.is_object() ? parsed.as_object() : json::object{};
}

double number(const json::value& value) { return value.to_number<double>(); }

TEST(BenchTest, StartsItsOwnServerAndReportsEveryFigureForBatches) {
  auto run = testing::run_sluice(
      {"bench", "--events", "3000", "--batch", "100", "--streams", "7", "--json"});
  ASSERT_EQ(run.exit.code, 0) << run.output;
  const json::object out = report(run.output);
  EXPECT_EQ(out.at("events"), 3000);
  EXPECT_EQ(number(out.at("completed")), 3000);
  EXPECT_EQ(out.at("stats_match"), true);
  EXPECT_EQ(out.at("mode"), "closed_loop");
  EXPECT_EQ(out.at("requests"), 30);
  EXPECT_GT(number(out.at("accepted_per_second")), 0);
  EXPECT_GT(number(out.at("completed_per_second")), 0);
  EXPECT_LE(number(out.at("completed_per_second")), number(out.at("accepted_per_second")));
  EXPECT_GT(number(out.at("peak_memory_bytes")), 1 << 20);
  EXPECT_GT(number(out.at("cpu_seconds")), 0);
  if (!out.at("disk_bytes_per_event").is_null()) {
    // Every event is at least written to the write-ahead log.
    EXPECT_GT(number(out.at("disk_bytes_per_event")), 100);
  }
  // Where the CPU went, per thread name: the partitions process every event.
  const json::object& threads = out.at("thread_cpu_microseconds_per_event").as_object();
  ASSERT_TRUE(threads.contains("partition")) << run.output;
  EXPECT_GT(number(threads.at("partition")), 0);
  EXPECT_TRUE(threads.contains("intake-append")) << run.output;
  const json::object& server = out.at("server_latency_ms").as_object();
  EXPECT_GT(number(server.at("p50")), 0);
  EXPECT_LE(number(server.at("p50")), number(server.at("p99")));
  EXPECT_LE(number(server.at("p99")), number(server.at("max")));
}

TEST(BenchTest, SendsEveryEventAsASignedEventSubNotificationAndTheStatsMatch) {
  auto run = testing::run_sluice({"bench", "--events", "2000", "--streams", "5", "--json",
                                  "--eventsub-secret", "bench-eventsub-secret"});
  ASSERT_EQ(run.exit.code, 0) << run.output;
  const json::object out = report(run.output);
  EXPECT_EQ(number(out.at("completed")), 2000);
  EXPECT_EQ(out.at("requests"), 2000);
  // Every type of event went through its EventSub mapping and counted as sent.
  EXPECT_EQ(out.at("stats_match"), true);

  auto batched = testing::run_sluice(
      {"bench", "--events", "10", "--batch", "5", "--eventsub-secret", "bench-eventsub-secret"});
  EXPECT_EQ(batched.exit.code, 2) << batched.output;
}

TEST(BenchTest, FixedRateAgainstARunningServerMeasuresEachEventToCompleted) {
  testing::TempDirectory data;
  testing::ServerProcess server(data.str());
  ASSERT_TRUE(server.started()) << server.log();
  auto run = testing::run_sluice({"bench", "--url", server.url(), "--events", "400", "--rate",
                                  "400", "--streams", "3", "--json"});
  ASSERT_EQ(run.exit.code, 0) << run.output;
  const json::object out = report(run.output);
  EXPECT_EQ(out.at("mode"), "fixed_rate");
  EXPECT_EQ(number(out.at("completed")), 400);
  EXPECT_EQ(out.at("stats_match"), true);
  // Each request waited for its event: every latency covers queue, fan-out and fan-in.
  const json::object& latency = out.at("latency_ms").as_object();
  EXPECT_GT(number(latency.at("p50")), 0);
  EXPECT_LE(number(latency.at("p50")), number(latency.at("p90")));
  EXPECT_LE(number(latency.at("p90")), number(latency.at("p99")));
  EXPECT_LE(number(latency.at("p99")), number(latency.at("max")));

  // The human-readable table, single events, closed loop, on the same server.
  auto table = testing::run_sluice(
      {"bench", "--url", server.url(), "--events", "200", "--connections", "4"});
  ASSERT_EQ(table.exit.code, 0) << table.output;
  EXPECT_NE(table.output.find("completed         200 events"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("all 100 streams exactly as sent"), std::string::npos)
      << table.output;
}

TEST(BenchTest, AcceptOnlyLeavesTheEventsQueued) {
  testing::TempDirectory data;
  testing::ServerProcess server(data.str(), {"--set", "pipeline.paused=true"});
  ASSERT_TRUE(server.started()) << server.log();
  auto run = testing::run_sluice({"bench", "--url", server.url(), "--events", "500", "--batch",
                                  "50", "--accept-only", "--json"});
  ASSERT_EQ(run.exit.code, 0) << run.output;
  const json::object out = report(run.output);
  EXPECT_EQ(out.at("events"), 500);
  EXPECT_EQ(out.at("requests"), 10);
  auto metrics =
      testing::metric_samples(http::Client::create(server.url()).value()->get("/metrics")->body);
  EXPECT_EQ(metrics.at("sluice_intake_queue_depth"), 500);
  EXPECT_EQ(metrics.at("sluice_events_accepted_total"), 500);
}

TEST(BenchTest, SendsAgainWhatALostConnectionCarried) {
  // The server is killed (SIGKILL) while the benchmark sends, and comes back on the same port:
  // every request that lost its connection goes again, and ingest keeps each event once.
  testing::TempDirectory data;
  const std::vector<std::string> paused = {"--set", "pipeline.paused=true"};
  auto server = std::make_unique<testing::ServerProcess>(data.str(), paused);
  ASSERT_TRUE(server->started()) << server->log();
  const std::string url = server->url();
  auto bench = std::async(std::launch::async, [&url] {
    return testing::run_sluice(
        {"bench", "--url", url, "--events", "50000", "--batch", "10", "--accept-only", "--json"});
  });
  auto client = http::Client::create(url).value();
  while (bench.wait_for(std::chrono::milliseconds(5)) != std::future_status::ready) {
    auto metrics = client->get("/metrics");
    if (metrics.ok() &&
        testing::metric_samples(metrics->body).at("sluice_events_accepted_total") >= 1000) {
      break;
    }
  }
  ASSERT_NE(bench.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "the benchmark ended before the server could be killed: " << bench.get().output;
  server->kill_hard();
  std::vector<std::string> again = paused;
  again.insert(again.end(), {"--set", fmt::format("listen=127.0.0.1:{}", server->port())});
  server = std::make_unique<testing::ServerProcess>(data.str(), again);
  ASSERT_TRUE(server->started()) << server->log();

  auto run = bench.get();
  ASSERT_EQ(run.exit.code, 0) << run.output;
  const json::object out = report(run.output);
  EXPECT_EQ(out.at("events"), 50000);
  EXPECT_GT(number(out.at("resent")), 0);
  auto metrics = testing::metric_samples(http::Client::create(url).value()->get("/metrics")->body);
  EXPECT_EQ(metrics.at("sluice_intake_queue_depth"), 50000);
}

TEST(BenchTest, ReportsAServerItCannotReachOrStart) {
  auto nobody = testing::run_sluice({"bench", "--url", "http://127.0.0.1:1", "--events", "10"});
  EXPECT_EQ(nobody.exit.code, 1) << nobody.output;
  EXPECT_NE(nobody.output.find("http://127.0.0.1:1"), std::string::npos) << nobody.output;

  auto refused = testing::run_sluice({"bench", "--set", "engine.partitions=banana"});
  EXPECT_EQ(refused.exit.code, 1) << refused.output;
  EXPECT_NE(refused.output.find("engine.partitions"), std::string::npos) << refused.output;
}

TEST(MetricsTest, CountsAcceptedAndFinishedEventsAndTheirLatency) {
  testing::TempDirectory data;
  testing::ServerProcess server(data.str());
  ASSERT_TRUE(server.started()) << server.log();
  auto client = http::Client::create(server.url()).value();
  pipeline::Traffic traffic("m-", "stream-", 3, 7);
  std::string body;
  for (int i = 0; i < 50; ++i) body += traffic.next() + "\n";
  auto posted = client->post("/api/events?wait=60", body, "application/x-ndjson");
  ASSERT_TRUE(posted.ok());
  ASSERT_EQ(posted->status, 200u) << posted->body;
  // The same events again: duplicates are not accepted twice.
  ASSERT_EQ(client->post("/api/events", body, "application/x-ndjson")->status, 202u);

  auto answer = client->get("/metrics");
  ASSERT_TRUE(answer.ok());
  ASSERT_EQ(answer->status, 200u);
  EXPECT_NE(answer->headers[boost::beast::http::field::content_type].find("text/plain"),
            std::string::npos);
  // at(): a metric that is missing or renamed fails the test rather than reading as 0.
  const auto metrics = testing::metric_samples(answer->body);
  EXPECT_EQ(metrics.at("sluice_events_accepted_total"), 50);
  EXPECT_EQ(metrics.at(R"(sluice_instances_finished_total{status="Completed"})"), 50);
  EXPECT_EQ(metrics.at(R"(sluice_instances_finished_total{status="Failed"})"), 0);
  EXPECT_EQ(metrics.at("sluice_event_latency_seconds_count"), 50);
  EXPECT_EQ(metrics.at(R"(sluice_event_latency_seconds_bucket{le="+Inf"})"), 50);
  EXPECT_GE(metrics.at(R"(sluice_event_latency_seconds_bucket{le="60"})"),
            metrics.at(R"(sluice_event_latency_seconds_bucket{le="0.001"})"));
  EXPECT_EQ(metrics.at("sluice_intake_queue_depth"), 0);
  EXPECT_GT(metrics.at("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(metrics.at("sluice_process_peak_resident_memory_bytes"),
            metrics.at("process_resident_memory_bytes"));
  EXPECT_GT(metrics.at("process_cpu_seconds_total"), 0);
  for (const char* thread : {"partition", "intake-append", "intake-consume", "http"}) {
    const std::string name =
        fmt::format(R"(sluice_thread_cpu_seconds_total{{thread="{}"}})", thread);
    ASSERT_TRUE(metrics.contains(name)) << answer->body;
  }
}

TEST(MetricsTest, NeedsTheReadScopeWhenKeysAreSet) {
  testing::TempDirectory data;
  testing::ServerProcess server(
      data.str(),
      {"--set", "keys.ops.secret=read-secret-1234567890", "--set", "keys.ops.scopes=read", "--set",
       "keys.feed.secret=ingest-secret-123456789", "--set", "keys.feed.scopes=ingest"});
  ASSERT_TRUE(server.started()) << server.log();
  EXPECT_EQ(http::Client::create(server.url()).value()->get("/metrics")->status, 401u);
  EXPECT_EQ(http::Client::create(server.url(), "ingest-secret-123456789")
                .value()
                ->get("/metrics")
                ->status,
            403u);
  EXPECT_EQ(
      http::Client::create(server.url(), "read-secret-1234567890").value()->get("/metrics")->status,
      200u);
}

}  // namespace
}  // namespace sluice
