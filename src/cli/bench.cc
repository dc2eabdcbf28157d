// `sluice bench`: the whole system's speed, end to end. Starts a server on a fresh data
// directory (or uses the one at --url), posts events to it — closed loop, or at a fixed rate —
// waits until every instance has finished, checks every stream's stats against what was sent,
// and reports throughput, latency from post to Completed, and the server's memory, CPU time and
// bytes written to disk per event, read from its GET /metrics. Where nodes share PostgreSQL, each
// counts what it runs: the figures are those of every live node added up (memory too).

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <thread>

#include "cli/commands.h"
#include "cli/load_generator.h"
#include "connectors/twitch/eventsub.h"
#include "core/clock.h"
#include "http/client.h"
#include "http/metrics.h"
#include "pipeline/traffic.h"

extern char** environ;

namespace sluice::cli {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

// A `sluice serve` started by the benchmark: this same executable, port 0, its own data directory,
// its log in that directory. Stopped (SIGTERM) and its directory removed on destruction.
class ServerProcess {
 public:
  static Result<std::unique_ptr<ServerProcess>> start(const BenchFlags& flags) {
    std::error_code error;
    fs::path data = flags.data ? fs::path(*flags.data) : fs::temp_directory_path(error);
    const bool temporary = !flags.data;
    if (temporary) {
      std::string pattern = (data / "sluice-bench-XXXXXX").string();
      if (mkdtemp(pattern.data()) == nullptr)
        return internal_error("cannot create a data directory");
      data = pattern;
    } else {
      fs::create_directories(data, error);
    }
    auto process = std::unique_ptr<ServerProcess>(new ServerProcess(data, temporary));
    std::vector<std::string> args = {fs::read_symlink("/proc/self/exe", error).string(),
                                     "serve",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--data",
                                     (data / "store").string()};
    for (const auto& setting : flags.settings) {
      args.push_back("--set");
      args.push_back(setting);
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = process->log_path();
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    const int spawned =
        posix_spawn(&process->pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) return internal_error(fmt::format("cannot start {}", args[0]));

    // The server logs "listening on 127.0.0.1:PORT" once it serves.
    const std::regex listening(R"(listening on 127\.0\.0\.1:(\d+)\D)");  // the whole port
    const auto deadline = Steady::now() + std::chrono::seconds(60);
    while (Steady::now() < deadline) {
      std::ifstream file(log);
      const std::string text(std::istreambuf_iterator<char>(file), {});
      std::smatch match;
      if (std::regex_search(text, match, listening)) {
        process->url_ = "http://127.0.0.1:" + match[1].str();
        return process;
      }
      int status = 0;
      if (waitpid(process->pid_, &status, WNOHANG) == process->pid_) {
        process->pid_ = -1;
        return unavailable(fmt::format("the server exited at start:\n{}", text));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return unavailable("the server did not start listening within 60 s");
  }

  // Stops the server: SIGTERM, and SIGKILL if it has not exited within a minute.
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      const auto deadline = Steady::now() + std::chrono::minutes(1);
      while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (Steady::now() > deadline) {
          kill(pid_, SIGKILL);
          waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    std::error_code error;
    if (temporary_) fs::remove_all(data_, error);
  }

  const std::string& url() const { return url_; }
  std::string log_path() const { return (data_ / "server.log").string(); }

 private:
  ServerProcess(fs::path data, bool temporary) : data_(std::move(data)), temporary_(temporary) {}

  fs::path data_;
  bool temporary_;
  pid_t pid_ = -1;
  std::string url_;
};

// One scrape of GET /metrics: every sample by its name and labels, as written.
using Samples = std::map<std::string, double>;

Result<Samples> scrape(http::Client& client) {
  SLUICE_ASSIGN_OR_RETURN(auto response, client.get("/metrics"));
  if (response.status != 200) {
    return unavailable(fmt::format("GET /metrics answered HTTP {}", response.status));
  }
  Samples samples;
  std::size_t start = 0;
  const std::string& text = response.body;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;
    const std::size_t space = line.rfind(' ');
    if (space == std::string_view::npos) continue;
    samples[std::string(line.substr(0, space))] = std::strtod(line.data() + space + 1, nullptr);
  }
  return samples;
}

// The nodes to scrape: every live node of the cluster `client` belongs to (nodes on one
// PostgreSQL database each count what they run), or just that one.
Result<std::vector<std::unique_ptr<http::Client>>> cluster_clients(std::string_view url,
                                                                   std::string_view api_key) {
  std::vector<std::unique_ptr<http::Client>> clients;
  SLUICE_ASSIGN_OR_RETURN(auto first, http::Client::create(url, api_key));
  auto cluster = first->get("/api/cluster");
  clients.push_back(std::move(first));
  if (!cluster.ok() || cluster->status != 200) return clients;
  boost::system::error_code error;
  const json::value view = json::parse(cluster->body, error);
  const json::object* object = error ? nullptr : view.if_object();
  const json::value* nodes = object == nullptr ? nullptr : object->if_contains("nodes");
  if (nodes == nullptr || !nodes->is_array() || nodes->as_array().size() < 2) return clients;
  std::vector<std::unique_ptr<http::Client>> live;
  for (const auto& node : nodes->as_array()) {
    const json::object* listed = node.if_object();
    if (listed == nullptr || listed->if_contains("live") == nullptr ||
        *listed->if_contains("live") != true || !listed->contains("address")) {
      continue;
    }
    const json::string* address = listed->at("address").if_string();
    if (address == nullptr) continue;
    SLUICE_ASSIGN_OR_RETURN(auto client,
                            http::Client::create("http://" + std::string(*address), api_key));
    live.push_back(std::move(client));
  }
  return live.empty() ? std::move(clients) : std::move(live);
}

// Every node's samples, added up.
Result<Samples> scrape(const std::vector<std::unique_ptr<http::Client>>& clients) {
  Samples total;
  for (const auto& client : clients) {
    SLUICE_ASSIGN_OR_RETURN(Samples samples, scrape(*client));
    for (const auto& [name, value] : samples) total[name] += value;
  }
  return total;
}

double sample(const Samples& samples, const std::string& name) {
  auto found = samples.find(name);
  return found == samples.end() ? -1 : found->second;
}

double finished(const Samples& samples) {
  return sample(samples, R"(sluice_instances_finished_total{status="Completed"})") +
         sample(samples, R"(sluice_instances_finished_total{status="Failed"})") +
         sample(samples, R"(sluice_instances_finished_total{status="Terminated"})");
}

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;  // milliseconds
};

Percentiles client_percentiles(std::vector<std::int64_t>& micros) {
  Percentiles out;
  if (micros.empty()) return out;
  std::sort(micros.begin(), micros.end());
  auto at = [&micros](double p) {
    const auto index =
        static_cast<std::size_t>(std::llround(p * static_cast<double>(micros.size() - 1)));
    return static_cast<double>(micros[std::min(index, micros.size() - 1)]) / 1000;
  };
  return {at(0.50), at(0.90), at(0.99), static_cast<double>(micros.back()) / 1000};
}

// Percentiles from the server's latency histogram, between two scrapes: the upper bound of the
// bucket each falls in (so "≤"); max is the highest non-empty bucket's bound.
Percentiles server_percentiles(const Samples& before, const Samples& after) {
  std::vector<std::pair<double, double>> buckets;  // (upper bound in ms, cumulative count)
  for (Micros bound : http::kLatencyBuckets) {
    const std::string name = fmt::format("sluice_event_latency_seconds_bucket{{le=\"{}\"}}",
                                         static_cast<double>(bound) / 1e6);
    buckets.emplace_back(static_cast<double>(bound) / 1000,
                         sample(after, name) - std::max(0.0, sample(before, name)));
  }
  const std::string infinite = R"(sluice_event_latency_seconds_bucket{le="+Inf"})";
  const double total = sample(after, infinite) - std::max(0.0, sample(before, infinite));
  Percentiles out;
  if (total <= 0) return out;
  auto at = [&](double p) {
    for (const auto& [bound, count] : buckets) {
      if (count >= p * total) return bound;
    }
    return std::numeric_limits<double>::infinity();
  };
  out.p50 = at(0.50);
  out.p90 = at(0.90);
  out.p99 = at(0.99);
  out.max = at(1.0);
  return out;
}

// CPU microseconds per event of each thread name over the run, from the server's
// sluice_thread_cpu_seconds_total. A name seen only at the end counts from zero.
std::map<std::string, double> thread_cpu_per_event(const Samples& before, const Samples& after,
                                                   double events) {
  constexpr std::string_view kPrefix = R"(sluice_thread_cpu_seconds_total{thread=")";
  constexpr std::string_view kSuffix = R"("})";
  std::map<std::string, double> per_event;
  for (const auto& [name, seconds] : after) {
    if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) continue;
    const std::string thread = name.substr(kPrefix.size(), name.size() - kPrefix.size() - 2);
    per_event[thread] = (seconds - std::max(0.0, sample(before, name))) * 1e6 / events;
  }
  return per_event;
}

json::object percentiles_json(const Percentiles& p) {
  return {{"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max}};
}

std::string percentiles_text(const Percentiles& p, std::string_view prefix = "") {
  return fmt::format("p50 {}{:.1f}  p90 {}{:.1f}  p99 {}{:.1f}  max {}{:.1f}", prefix, p.p50,
                     prefix, p.p90, prefix, p.p99, prefix, p.max);
}

// Traffic's events as the EventSub notifications Twitch would send for them, each signed: a
// cheer as channel.cheer, a follower as channel.follow, a subscription as channel.subscribe or,
// when gifted, a gift of one, a donation as a charity donation. They map back to the same stats.
// The message id is the event's id. The bodies are made before the run, so that making them
// takes no CPU from the server; each is signed as it is sent. headers() signs the body next()
// gave last: the load generator asks for a body, then for its headers.
class EventSubTraffic {
 public:
  EventSubTraffic(pipeline::Traffic& traffic, std::int64_t events, std::string secret)
      : secret_(std::move(secret)) {
    messages_.reserve(static_cast<std::size_t>(events));
    for (std::int64_t i = 0; i < events; ++i) messages_.push_back(notification(traffic.next()));
  }

  std::string next() {
    Message& message = messages_.at(next_++);
    message_id_ = std::move(message.id);
    return std::move(message.body);
  }

  std::string headers(std::string_view body) const {
    const std::string timestamp = format_rfc3339(SystemClock().now());
    return fmt::format(
        "Twitch-Eventsub-Message-Type: notification\r\nTwitch-Eventsub-Message-Id: "
        "{}\r\nTwitch-Eventsub-Message-Timestamp: {}\r\nTwitch-Eventsub-Message-Signature: "
        "{}\r\n",
        message_id_, timestamp, twitch::sign(secret_, message_id_, timestamp, body));
  }

 private:
  struct Message {
    std::string id;
    std::string body;
  };

  static Message notification(const std::string& event_text) {
    const json::object event = json::parse(event_text).as_object();
    std::string message_id(event.at("event_id").as_string());
    const std::string_view type = event.at("type").as_string();
    json::object notification{{"broadcaster_user_id", "1"},
                              {"broadcaster_user_login", event.at("stream_id")},
                              {"user_id", "2"},
                              {"user_login", "viewer"},
                              {"user_name", "viewer"}};
    std::string subscription_type;
    if (type == "follower") {
      subscription_type = "channel.follow";
    } else if (type == "cheer") {
      subscription_type = "channel.cheer";
      notification["bits"] = event.at("bits");
      notification["is_anonymous"] = false;
    } else if (type == "subscription") {
      notification["tier"] = "1000";
      if (event.at("gifted").as_bool()) {
        subscription_type = "channel.subscription.gift";
        notification["total"] = 1;
      } else {
        subscription_type = "channel.subscribe";
        notification["is_gift"] = false;
      }
    } else {
      subscription_type = "channel.charity_campaign.donate";
      // "12.34" is 1234 with 2 decimal places.
      std::string amount(event.at("amount").as_string());
      const auto point = amount.find('.');
      const std::size_t places = point == std::string::npos ? 0 : amount.size() - point - 1;
      if (point != std::string::npos) amount.erase(point, 1);
      notification["broadcaster_login"] = event.at("stream_id");
      notification["amount"] = {{"value", std::stoll(amount)},
                                {"decimal_places", places},
                                {"currency", event.at("currency")}};
    }
    return {std::move(message_id),
            json::serialize(json::object{{"subscription",
                                          {{"id", "bench-" + subscription_type},
                                           {"status", "enabled"},
                                           {"type", subscription_type},
                                           {"version", "1"},
                                           {"condition", {{"broadcaster_user_id", "1"}}}}},
                                         {"event", std::move(notification)}})};
  }

  const std::string secret_;
  std::vector<Message> messages_;
  std::size_t next_ = 0;
  std::string message_id_;
};

}  // namespace

int bench(const BenchFlags& flags) {
  if (flags.eventsub_secret && (flags.batch != 1 || flags.rate > 0)) {
    // Twitch sends one event per request and waits for no processing (no ?wait=).
    fmt::print(stderr,
               "sluice bench: --eventsub-secret sends one event per request in a closed loop: "
               "no --batch, no --rate\n");
    return kExitUsage;
  }
  // The started server takes the secret from its environment, not from a visible argument.
  if (flags.eventsub_secret && !flags.external) {
    setenv("SLUICE_TWITCH_SECRET", flags.eventsub_secret->c_str(), 1);
  }
  std::unique_ptr<ServerProcess> started;
  std::string url = flags.server.url;
  if (!flags.external) {
    auto process = ServerProcess::start(flags);
    if (!process.ok()) {
      fmt::print(stderr, "sluice bench: {}\n", process.status().message());
      return kExitFailure;
    }
    started = std::move(*process);
    url = started->url();
  }
  auto parsed_url = boost::urls::parse_uri(url);
  auto client = http::Client::create(url, flags.server.api_key);
  if (!parsed_url || !client.ok()) {
    fmt::print(stderr, "sluice bench: --url must be http://HOST:PORT\n");
    return kExitUsage;
  }
  auto nodes = cluster_clients(url, flags.server.api_key);
  if (!nodes.ok()) {
    fmt::print(stderr, "sluice bench: {}\n", nodes.status().message());
    return kExitFailure;
  }
  auto before = scrape(*nodes);
  if (!before.ok()) {
    fmt::print(stderr, "sluice bench: {} at {}\n", before.status().message(), url);
    return kExitFailure;
  }

  const std::string run = fmt::format("bench{:x}", SystemClock().now() / 1000);
  pipeline::Traffic traffic(run + "-e", run + "-s", static_cast<int>(flags.streams), 1);
  LoadOptions load;
  load.host = parsed_url->host();
  load.port = parsed_url->port().empty() ? "80" : std::string(parsed_url->port());
  load.api_key = flags.server.api_key;
  load.events = flags.events;
  load.batch = flags.batch;
  load.rate = flags.rate;
  load.connections = flags.connections > 0 ? flags.connections
                     : flags.rate > 0      ? 1000
                     : flags.batch > 1     ? 4
                                           : 64;
  // At a fixed rate every request waits for its events to finish, so the client sees each one's
  // post → Completed time itself.
  load.wait_seconds = flags.rate > 0 ? 120 : 0;
  const std::string mode = flags.rate > 0
                               ? fmt::format("{} events/s, fixed rate, up to {} connections",
                                             flags.rate, load.connections)
                               : fmt::format("closed loop over {} connections", load.connections);
  if (!flags.json) {
    fmt::print("sluice bench: {} events over {} streams, {}, {}\n", flags.events, flags.streams,
               flags.batch > 1         ? fmt::format("NDJSON batches of {}", flags.batch)
               : flags.eventsub_secret ? std::string("one signed EventSub notification per request")
                                       : std::string("one event per request"),
               mode);
    std::fflush(stdout);
  }

  std::optional<EventSubTraffic> eventsub;
  if (flags.eventsub_secret) {
    eventsub.emplace(traffic, flags.events, *flags.eventsub_secret);
    load.target = "/api/twitch/eventsub";
    load.signed_headers = [&eventsub](std::string_view body) { return eventsub->headers(body); };
  }
  LoadResult result = run_load(
      load, [&traffic, &eventsub] { return eventsub ? eventsub->next() : traffic.next(); });
  if (!result.failure.empty()) {
    fmt::print(stderr, "sluice bench: {}\n", result.failure);
    return kExitFailure;
  }

  if (flags.accept_only) {
    const double seconds =
        std::chrono::duration<double>(result.last_answer - result.started).count();
    const double per_second = static_cast<double>(result.events_sent) / seconds;
    if (flags.json) {
      fmt::print("{}\n", json::serialize(json::object{{"events", result.events_sent},
                                                      {"requests", result.requests},
                                                      {"resent", result.resent},
                                                      {"accepted_per_second", per_second}}));
    } else {
      fmt::print(
          "accepted   {:>10} events in {:7.2f} s  {:>9.0f} events/s (not waiting for "
          "processing)\n",
          result.events_sent, seconds, per_second);
    }
    return kExitOk;
  }

  // Drain: until the server has finished as many instances as were sent.
  const double target = finished(*before) + static_cast<double>(result.events_sent);
  const auto drain_deadline =
      Steady::now() + std::chrono::duration_cast<Steady::duration>(
                          std::chrono::duration<double>(flags.drain_timeout));
  Result<Samples> after = scrape(*nodes);
  while (after.ok() && finished(*after) < target && Steady::now() < drain_deadline) {
    // Each scrape costs the server a few hundred µs of CPU; every 20 ms that is about 1 % of a
    // core, and the end of a run of 10 s or more is still timed to within 0.2 %.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    after = scrape(*nodes);
  }
  const auto drained = Steady::now();
  if (!after.ok()) {
    fmt::print(stderr, "sluice bench: {}\n", after.status().message());
    return kExitFailure;
  }
  const bool all_finished = finished(*after) >= target;

  std::int64_t wrong_streams = 0;
  for (const auto& [stream, want] : traffic.expected()) {
    auto response = (*client)->get("/api/streams/" + stream + "/stats");
    boost::system::error_code error;
    const json::value stats =
        response.ok() ? json::parse(response->body, error) : json::value(nullptr);
    const auto differences = pipeline::compare_stats(want, error ? json::value(nullptr) : stats);
    if (differences.empty()) continue;
    ++wrong_streams;
    for (const auto& difference : differences) {
      fmt::print(stderr, "{}: {}\n", stream, difference);
    }
  }

  const double events = static_cast<double>(result.events_sent);
  const double accept_seconds =
      std::chrono::duration<double>(result.last_answer - result.started).count();
  const double complete_seconds = std::chrono::duration<double>(drained - result.started).count();
  const double completed =
      sample(*after, R"(sluice_instances_finished_total{status="Completed"})") -
      sample(*before, R"(sluice_instances_finished_total{status="Completed"})");
  const Percentiles measured = client_percentiles(result.latencies);
  const Percentiles server = server_percentiles(*before, *after);
  const double cpu =
      sample(*after, "process_cpu_seconds_total") - sample(*before, "process_cpu_seconds_total");
  const double peak = sample(*after, "sluice_process_peak_resident_memory_bytes");
  const double disk = sample(*after, "sluice_process_disk_written_bytes_total") -
                      sample(*before, "sluice_process_disk_written_bytes_total");
  const bool disk_known = sample(*after, "sluice_process_disk_written_bytes_total") >= 0;
  const std::map<std::string, double> threads = thread_cpu_per_event(*before, *after, events);

  if (flags.json) {
    json::object out{
        {"events", result.events_sent},
        {"nodes", nodes->size()},
        {"streams", flags.streams},
        {"batch", flags.batch},
        {"mode", flags.rate > 0 ? "fixed_rate" : "closed_loop"},
        {"rate", flags.rate},
        {"connections", result.connections_opened},
        {"requests", result.requests},
        {"resent", result.resent},
        {"accepted_per_second", events / accept_seconds},
        {"completed_per_second", events / complete_seconds},
        {"completed", completed},
        {"server_latency_ms", percentiles_json(server)},
        {"peak_memory_bytes", peak},
        {"cpu_seconds", cpu},
        {"cpu_microseconds_per_event", cpu * 1e6 / events},
        {"disk_bytes_per_event", disk_known ? json::value(disk / events) : json::value(nullptr)},
        {"stats_match", wrong_streams == 0},
    };
    json::object thread_cpu;
    for (const auto& [thread, micros] : threads) thread_cpu[thread] = micros;
    out["thread_cpu_microseconds_per_event"] = std::move(thread_cpu);
    out[flags.rate > 0 ? "latency_ms" : "request_latency_ms"] = percentiles_json(measured);
    fmt::print("{}\n", json::serialize(out));
  } else {
    fmt::print("accepted   {:>10} events in {:7.2f} s  {:>9.0f} events/s\n", result.events_sent,
               accept_seconds, events / accept_seconds);
    fmt::print(
        "completed  {:>10} events in {:7.2f} s  {:>9.0f} events/s  (first post → last "
        "Completed)\n",
        static_cast<std::int64_t>(completed), complete_seconds, events / complete_seconds);
    if (flags.rate > 0) {
      fmt::print("latency post → Completed, ms, from each request's due time:  {}\n",
                 percentiles_text(measured));
    } else {
      fmt::print("latency post → answer (202), ms:  {}\n", percentiles_text(measured));
    }
    fmt::print("latency receipt → Completed, ms, server histogram:  {}\n",
               percentiles_text(server, "≤"));
    fmt::print("server     {}peak memory {:.0f} MiB, CPU {:.2f} s ({:.1f} µs per event), {}\n",
               nodes->size() > 1 ? fmt::format("{} nodes together: ", nodes->size()) : "",
               peak / (1 << 20), cpu, cpu * 1e6 / events,
               disk_known ? fmt::format("{:.0f} bytes written to disk per event", disk / events)
                          : std::string("disk writes unknown"));
    if (!threads.empty()) {
      std::string listed;
      for (const auto& [thread, micros] : threads) {
        listed += fmt::format("{}{} {:.1f}", listed.empty() ? "" : " · ", thread, micros);
      }
      fmt::print("threads    CPU µs per event: {}\n", listed);
    }
    fmt::print("requests   {} over {} connections, {} sent again\n", result.requests,
               result.connections_opened, result.resent);
    fmt::print("stats      {}\n",
               wrong_streams == 0
                   ? fmt::format("all {} streams exactly as sent", traffic.expected().size())
                   : fmt::format("{} of {} streams differ from what was sent", wrong_streams,
                                 traffic.expected().size()));
  }
  if (!all_finished || wrong_streams > 0 || completed < events) {
    fmt::print(stderr, "sluice bench: FAILED: {} of {} events Completed, {} streams wrong\n",
               static_cast<std::int64_t>(completed), result.events_sent, wrong_streams);
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace sluice::cli
