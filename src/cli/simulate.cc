// `sluice simulate`: realistic traffic against a running server — many streams, every event
// type, at a steady rate or in bursts — with a live progress line, then a check that every
// stream's stats equal what was sent and a report of throughput and latency.
//
// Events and streams carry a run prefix, so a run's figures are its own even on a server that
// holds other data. A request that fails is sent again with the same event ids: ingest is
// idempotent by event id, so a retry never counts twice.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "core/clock.h"
#include "http/client.h"
#include "pipeline/traffic.h"

namespace sluice::cli {
namespace {

namespace json = boost::json;
using Steady = std::chrono::steady_clock;

struct Progress {
  std::atomic<std::int64_t> sent{0};
  std::atomic<std::int64_t> accepted{0};
  std::atomic<std::int64_t> retried_requests{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::string failure;  // guarded by mutex
  void fail(std::string why) {
    std::lock_guard lock(mutex);
    if (!failed.exchange(true)) failure = std::move(why);
  }
};

// Posts `body` until the server accepts it; false after a refusal (4xx) or when the run failed.
bool post_until_accepted(http::Client& client, const std::string& body, std::string_view type,
                         Progress& progress) {
  while (!progress.failed) {
    auto response = client.post("/api/events", body, type);
    if (response.ok() && response->status / 100 == 2) return true;
    if (response.ok() && response->status / 100 == 4) {
      progress.fail(fmt::format("the server refused a request: HTTP {} {}", response->status,
                                response->body));
      return false;
    }
    ++progress.retried_requests;  // 5xx or no connection: the same events again, shortly
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// One connection's share of the traffic.
void send_traffic(const SimulateFlags& flags, unsigned connection, Steady::time_point start,
                  Progress& progress, pipeline::Traffic& traffic) {
  auto client = http::Client::create(flags.server.url, flags.server.api_key);
  if (!client.ok()) {
    progress.fail(client.status().message());
    return;
  }
  const std::string_view type = flags.batch > 1 ? "application/x-ndjson" : "application/json";
  const auto end = start + std::chrono::duration_cast<Steady::duration>(
                               std::chrono::duration<double>(flags.duration));
  const std::int64_t share =
      flags.events > 0 ? (flags.events + flags.connections - 1 - connection) / flags.connections
                       : INT64_MAX;
  // Steady: one request every `interval`. Bursts: `per_burst` events as fast as possible at the
  // start of every period.
  const double requests_per_second =
      flags.rate > 0 ? flags.rate / static_cast<double>(flags.batch * flags.connections) : 0;
  const auto interval = std::chrono::duration_cast<Steady::duration>(
      std::chrono::duration<double>(requests_per_second > 0 ? 1 / requests_per_second : 0));
  const std::int64_t per_burst =
      flags.burst > 0 ? (flags.burst + flags.connections - 1 - connection) / flags.connections : 0;
  const auto period = std::chrono::duration_cast<Steady::duration>(
      std::chrono::duration<double>(flags.burst_every));

  auto next = start;
  std::int64_t in_burst = 0;
  while (!progress.failed && traffic.sent() < share && Steady::now() < end) {
    if (per_burst > 0) {
      if (in_burst >= per_burst) {
        next += period;
        in_burst = 0;
      }
      std::this_thread::sleep_until(next);
    } else if (interval.count() > 0) {
      std::this_thread::sleep_until(next);
      next += interval;
    }
    if (Steady::now() >= end) break;
    std::string body;
    std::int64_t count = 0;
    while (count < static_cast<std::int64_t>(flags.batch) && traffic.sent() < share &&
           (per_burst == 0 || in_burst + count < per_burst)) {
      body += traffic.next();
      body += '\n';
      ++count;
    }
    progress.sent += count;
    if (!post_until_accepted(**client, body, type, progress)) return;
    progress.accepted += count;
    in_burst += count;
  }
}

json::value get_json(http::Client& client, const std::string& target) {
  auto response = client.get(target);
  if (!response.ok() || response->status != 200) return nullptr;
  boost::system::error_code error;
  json::value parsed = json::parse(response->body, error);
  return error ? json::value(nullptr) : parsed;
}

struct Observed {
  std::int64_t processed = 0;  // events the streams' stats count
  std::int64_t dead_letters = -1;
  std::int64_t depth = -1;
  std::int64_t running = -1;  // orchestrations not yet finished, this run's or not
};

Observed observe(http::Client& client, const std::vector<std::string>& streams) {
  Observed observed;
  const json::value queue = get_json(client, "/api/queue");
  if (queue.is_object()) {
    observed.depth = queue.at("depth").as_int64();
    observed.running = queue.at("running").as_int64();
    observed.dead_letters = queue.at("deadletter").at("count").as_int64();
  }
  for (const auto& stream : streams) {
    const json::value stats = get_json(client, "/api/streams/" + stream + "/stats");
    if (stats.is_object()) observed.processed += stats.at("events").as_int64();
  }
  return observed;
}

void print_progress(const Progress& progress, const Observed& observed, std::int64_t dead_start,
                    double seconds, bool terminal) {
  fmt::print(stderr,
             "{}[{:6.1f} s] sent {}  accepted {}  processed {}  dead-lettered {}  queue {}  "
             "running {}{}",
             terminal ? "\r" : "", seconds, progress.sent.load(), progress.accepted.load(),
             observed.processed, std::max<std::int64_t>(0, observed.dead_letters - dead_start),
             observed.depth, observed.running, terminal ? "   " : "\n");
  std::fflush(stderr);
}

std::int64_t percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index =
      static_cast<std::size_t>(std::llround(p * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(index, sorted.size() - 1)];
}

// Reads back, from the server, when each of this run's events was received and when its
// instance finished, and prints throughput and latency. Returns how many instances are unfinished.
std::int64_t report_timings(http::Client& client, const std::string& run,
                            const std::vector<std::string>& streams) {
  std::map<std::string, Micros> received;
  for (const auto& stream : streams) {
    std::string cursor;
    while (true) {
      const json::value page = get_json(client, "/api/streams/" + stream + "/events?limit=1000" +
                                                    (cursor.empty() ? "" : "&cursor=" + cursor));
      if (!page.is_object()) break;
      for (const auto& item : page.at("items").as_array()) {
        Micros at = 0;
        if (parse_rfc3339(item.at("received_at").as_string(), at)) {
          received[std::string(item.at("id").as_string())] = at;
        }
      }
      if (page.at("next_cursor").is_null()) break;
      cursor = page.at("next_cursor").as_string();
    }
  }
  std::map<std::string, std::int64_t> by_status;
  std::vector<std::int64_t> latencies;
  Micros first = INT64_MAX, last = 0;
  std::string continuation;
  while (true) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!continuation.empty()) headers.emplace_back("x-ms-continuation-token", continuation);
    auto response = client.request(
        boost::beast::http::verb::get,
        "/runtime/webhooks/durabletask/instances?top=1000&instanceIdPrefix=" + run + "-", {}, {},
        headers);
    if (!response.ok() || response->status != 200) break;
    const json::value items = json::parse(response->body);
    for (const auto& item : items.as_array()) {
      ++by_status[std::string(item.at("runtimeStatus").as_string())];
      Micros finished = 0;
      auto found = received.find(std::string(item.at("instanceId").as_string()));
      if (found == received.end() ||
          !parse_rfc3339(item.at("lastUpdatedTime").as_string(), finished)) {
        continue;
      }
      latencies.push_back((finished - found->second) / 1000);
      first = std::min(first, found->second);
      last = std::max(last, finished);
    }
    auto token = response->headers.find("x-ms-continuation-token");
    if (token == response->headers.end()) break;
    continuation = std::string(token->value());
  }
  std::int64_t finished = 0, unfinished = 0;
  std::string statuses;
  for (const auto& [name, count] : by_status) {
    statuses += fmt::format("{}{} {}", statuses.empty() ? "" : ", ", name, count);
    (name == "Completed" || name == "Failed" || name == "Terminated" ? finished : unfinished) +=
        count;
  }
  fmt::print("instances: {}\n", statuses.empty() ? "none" : statuses);
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty() && last > first) {
    const double seconds = static_cast<double>(last - first) / 1e6;
    fmt::print(
        "end to end: {} events from first receipt to last completion in {:.2f} s = {:.0f} "
        "events/s\n",
        latencies.size(), seconds, static_cast<double>(latencies.size()) / seconds);
    fmt::print("latency post → finished (server clock, ms): p50 {}  p90 {}  p99 {}  max {}\n",
               percentile(latencies, 0.50), percentile(latencies, 0.90),
               percentile(latencies, 0.99), latencies.back());
  }
  return unfinished;
}

}  // namespace

int simulate(const SimulateFlags& flags) {
  auto client = http::Client::create(flags.server.url, flags.server.api_key);
  if (!client.ok()) {
    fmt::print(stderr, "sluice simulate: {}\n", client.status().message());
    return kExitUsage;
  }
  const std::string run = fmt::format("sim{:x}", SystemClock().now() / 1000);
  std::vector<std::string> streams;
  for (unsigned i = 0; i < flags.streams; ++i) streams.push_back(fmt::format("{}-s{}", run, i));
  const Observed before = observe(**client, {});
  if (before.depth < 0) {
    fmt::print(stderr, "sluice simulate: no sluice server answers at {}\n", flags.server.url);
    return kExitFailure;
  }
  const bool terminal = !flags.quiet && isatty(STDERR_FILENO);
  fmt::print("run {}: {} streams, {} connections, {} events per request, {}\n", run, flags.streams,
             flags.connections, flags.batch,
             flags.burst > 0
                 ? fmt::format("bursts of {} every {} s", flags.burst, flags.burst_every)
             : flags.rate > 0 ? fmt::format("{} events/s", flags.rate)
                              : std::string("as fast as the server takes them"));
  std::fflush(stdout);

  Progress progress;
  std::vector<pipeline::Traffic> traffic;
  for (unsigned i = 0; i < flags.connections; ++i) {
    traffic.emplace_back(fmt::format("{}-c{}-", run, i), run + "-s", flags.streams,
                         static_cast<std::uint32_t>(i * 7919 + 1));
  }
  const auto start = Steady::now();
  std::vector<std::thread> senders;
  for (unsigned i = 0; i < flags.connections; ++i) {
    senders.emplace_back([&, i] { send_traffic(flags, i, start, progress, traffic[i]); });
  }
  std::atomic<bool> sending{true};
  std::thread reporter([&] {
    auto watcher = http::Client::create(flags.server.url, flags.server.api_key);
    while (sending && !flags.quiet) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (!sending) break;
      const double seconds = std::chrono::duration<double>(Steady::now() - start).count();
      print_progress(progress, observe(**watcher, streams), before.dead_letters, seconds, terminal);
    }
  });
  for (auto& sender : senders) sender.join();
  const double sending_seconds = std::chrono::duration<double>(Steady::now() - start).count();
  sending = false;
  reporter.join();
  if (progress.failed) {
    fmt::print(stderr, "\nsluice simulate: {}\n", progress.failure);
    return kExitFailure;
  }

  // Drain: wait until every accepted event is counted and no orchestration is still running
  // (retrying a webhook, say).
  const auto drain_deadline =
      Steady::now() + std::chrono::duration_cast<Steady::duration>(
                          std::chrono::duration<double>(flags.drain_timeout));
  Observed observed = observe(**client, streams);
  while ((observed.processed < progress.accepted || observed.depth != 0 || observed.running != 0) &&
         Steady::now() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    observed = observe(**client, streams);
    if (!flags.quiet) {
      print_progress(progress, observed, before.dead_letters,
                     std::chrono::duration<double>(Steady::now() - start).count(), terminal);
    }
  }
  if (terminal) fmt::print(stderr, "\n");
  fmt::print("sent {} events in {:.2f} s ({:.0f}/s accepted), {} requests retried\n",
             progress.accepted.load(), sending_seconds,
             static_cast<double>(progress.accepted) / sending_seconds,
             progress.retried_requests.load());

  std::map<std::string, pipeline::StreamTotals> expected;
  for (const auto& part : traffic) {
    for (const auto& [stream, totals] : part.expected()) expected[stream].add(totals);
  }
  std::int64_t wrong = 0;
  for (const auto& [stream, want] : expected) {
    const auto differences =
        pipeline::compare_stats(want, get_json(**client, "/api/streams/" + stream + "/stats"));
    if (differences.empty()) continue;
    ++wrong;
    for (const auto& difference : differences) fmt::print("{}: {}\n", stream, difference);
  }
  const std::int64_t unfinished = report_timings(**client, run, streams);
  if (wrong > 0 || unfinished > 0) {
    fmt::print(
        "FAILED: {} of {} streams' stats differ from what was sent; {} instances unfinished\n",
        wrong, expected.size(), unfinished);
    return kExitFailure;
  }
  fmt::print("stats: all {} streams exactly as sent\n", expected.size());
  return kExitOk;
}

}  // namespace sluice::cli
