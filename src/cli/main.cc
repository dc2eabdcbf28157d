// sluice: the server and its command-line client.

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace {

// --url and --api-key, for every command that talks to a server.
CLI::Option* add_server_options(CLI::App* command, sluice::cli::ServerAddress& server) {
  auto* url = command->add_option("--url", server.url, "server address")->envname("SLUICE_URL");
  command->add_option("--api-key", server.api_key, "API key to present (SLUICE_API_KEY)")
      ->envname("SLUICE_API_KEY");
  return url;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice::cli;
  CLI::App app{"sluice: durable event orchestration for live-stream events"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");

  ServeFlags serve_flags;
  auto* serve_command = app.add_subcommand("serve", "Run the server");
  serve_command->add_option("--config", serve_flags.config_file, "TOML configuration file");
  serve_command->add_option("--listen", serve_flags.listen,
                            "HOST:PORT to listen on (127.0.0.1:7070)");
  serve_command->add_option("--data", serve_flags.data,
                            "data directory for the embedded store (./data)");
  serve_command->add_option("--set", serve_flags.settings,
                            "any setting, as KEY=VALUE (repeatable)");
  serve_command->add_flag("--help-settings", serve_flags.help_settings,
                          "print every setting: default, meaning, environment variable");

  SendFlags send_flags;
  auto* send_command = app.add_subcommand(
      "send", "Post events: one from flags, or NDJSON from --file (- for stdin)");
  add_server_options(send_command, send_flags.server);
  send_command->add_option("--file", send_flags.file, "NDJSON file of events, - for stdin");
  send_command->add_option("--event-id", send_flags.event_id, "idempotency key");
  send_command->add_option("--stream", send_flags.stream_id, "stream id");
  send_command->add_option("--type", send_flags.type, "follower, subscription, donation or cheer");
  send_command->add_option("--user-id", send_flags.user_id);
  send_command->add_option("--user-name", send_flags.user_name);
  send_command->add_option("--amount", send_flags.amount, "donation amount, e.g. 5.00");
  send_command->add_option("--currency", send_flags.currency, "ISO 4217 code, e.g. USD");
  send_command->add_option("--tier", send_flags.tier, "subscription tier: 1000, 2000 or 3000");
  send_command->add_option("--months", send_flags.months, "subscription months");
  send_command->add_flag("--gifted", send_flags.gifted, "the subscription was a gift");
  send_command->add_option("--bits", send_flags.bits, "cheer bits");
  send_command->add_option("--message", send_flags.message);
  send_command->add_option("--occurred-at", send_flags.occurred_at, "RFC 3339 time");
  send_command->add_option("--batch-size", send_flags.batch_size, "events per request with --file")
      ->check(CLI::Range(1, 100000));

  StatusFlags status_flags;
  auto* status_command = app.add_subcommand("status", "Show an orchestration instance's status");
  status_command->add_option("id", status_flags.instance_id, "instance id")->required();
  add_server_options(status_command, status_flags.server);
  status_command->add_flag("--history", status_flags.history, "include the history events");

  StatsFlags stats_flags;
  auto* stats_command = app.add_subcommand("stats", "Show a stream's running totals");
  stats_command->add_option("stream", stats_flags.stream_id, "stream id")->required();
  add_server_options(stats_command, stats_flags.server);

  ServerAddress cluster_server;
  auto* cluster_command = app.add_subcommand(
      "cluster", "Show the nodes sharing the database and who holds each partition");
  add_server_options(cluster_command, cluster_server);

  DeadLetterFlags dlq_flags;
  auto* dlq_command =
      app.add_subcommand("dlq", "Dead letters: list, show ID, replay ID, delete ID");
  dlq_command->add_option("action", dlq_flags.action, "list, show, replay or delete")
      ->required()
      ->check(CLI::IsMember({"list", "show", "replay", "delete"}));
  dlq_command->add_option("id", dlq_flags.id, "dead letter id (the event id)");
  add_server_options(dlq_command, dlq_flags.server);
  dlq_command->add_option("--limit", dlq_flags.limit, "records per page (list)")
      ->check(CLI::Range(1, 1000));
  dlq_command->add_option("--cursor", dlq_flags.cursor, "next_cursor of the previous page (list)");

  SimulateFlags simulate_flags;
  auto* simulate_command = app.add_subcommand(
      "simulate", "Send simulated stream traffic, then check every stream's stats");
  add_server_options(simulate_command, simulate_flags.server);
  simulate_command->add_option("--streams", simulate_flags.streams, "streams to spread events over")
      ->check(CLI::Range(1, 100000));
  simulate_command->add_option("--rate", simulate_flags.rate, "events per second; 0: unpaced")
      ->check(CLI::Range(0.0, 10'000'000.0));
  simulate_command->add_option("--duration", simulate_flags.duration, "seconds of sending")
      ->check(CLI::Range(0.1, 86400.0));
  simulate_command->add_option("--events", simulate_flags.events, "stop after this many events")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000'000}));
  simulate_command->add_option("--batch", simulate_flags.batch, "events per request (NDJSON)")
      ->check(CLI::Range(1, 10000));
  simulate_command
      ->add_option("--connections", simulate_flags.connections,
                   "keep-alive connections sending at once")
      ->check(CLI::Range(1, 512));
  simulate_command
      ->add_option("--burst", simulate_flags.burst, "events per burst instead of a steady rate")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{100'000'000}));
  simulate_command
      ->add_option("--burst-every", simulate_flags.burst_every, "seconds between bursts")
      ->check(CLI::Range(0.1, 3600.0));
  simulate_command
      ->add_option("--drain-timeout", simulate_flags.drain_timeout,
                   "seconds to wait for processing after sending")
      ->check(CLI::Range(1.0, 86400.0));
  simulate_command->add_flag("--quiet", simulate_flags.quiet, "no progress line");

  BenchFlags bench_flags;
  auto* bench_command =
      app.add_subcommand("bench", "Measure throughput, latency and resource use end to end");
  add_server_options(bench_command, bench_flags.server)
      ->description("benchmark the server at this address instead of starting one");
  bench_command->add_option("--data", bench_flags.data,
                            "data directory for the started server (kept; default temporary)");
  bench_command->add_option("--set", bench_flags.settings,
                            "a setting for the started server, KEY=VALUE (repeatable)");
  bench_command->add_option("--events", bench_flags.events, "events to send")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000'000}));
  bench_command->add_option("--batch", bench_flags.batch, "events per request (NDJSON)")
      ->check(CLI::Range(1, 10000));
  bench_command->add_option("--rate", bench_flags.rate, "events per second; 0: closed loop")
      ->check(CLI::Range(0.0, 10'000'000.0));
  bench_command
      ->add_option("--connections", bench_flags.connections,
                   "keep-alive connections (closed loop), or the most to open (fixed rate)")
      ->check(CLI::Range(0, 10000));
  bench_command->add_option("--streams", bench_flags.streams, "streams to spread events over")
      ->check(CLI::Range(1, 100000));
  bench_command
      ->add_option("--drain-timeout", bench_flags.drain_timeout,
                   "seconds to wait for processing after sending")
      ->check(CLI::Range(1.0, 86400.0));
  bench_command->add_flag("--json", bench_flags.json, "one JSON object instead of the table");
  bench_command->add_flag("--accept-only", bench_flags.accept_only,
                          "stop once the server has accepted every event (with --url)");
  bench_command->add_option("--eventsub-secret", bench_flags.eventsub_secret,
                            "post each event as a Twitch EventSub notification signed with this "
                            "secret (the started server gets it as twitch.secret)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (*serve_command) return serve(serve_flags);
  if (*send_command) return send(send_flags);
  if (*status_command) return status(status_flags);
  if (*stats_command) return stats(stats_flags);
  if (*dlq_command) return dead_letters(dlq_flags);
  if (*cluster_command) return cluster(cluster_server);
  if (*simulate_command) return simulate(simulate_flags);
  if (*bench_command) {
    bench_flags.external =
        bench_command->count("--url") > 0 || std::getenv("SLUICE_URL") != nullptr;
    return bench(bench_flags);
  }
  return kExitUsage;
}
