// sluice: the server and its command-line client.

#include <CLI/CLI.hpp>

#include "cli/commands.h"

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

  SendFlags send_flags;
  auto* send_command = app.add_subcommand(
      "send", "Post events: one from flags, or NDJSON from --file (- for stdin)");
  send_command->add_option("--url", send_flags.url, "server address")->envname("SLUICE_URL");
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
  status_command->add_option("--url", status_flags.url, "server address")->envname("SLUICE_URL");
  status_command->add_flag("--history", status_flags.history, "include the history events");

  StatsFlags stats_flags;
  auto* stats_command = app.add_subcommand("stats", "Show a stream's running totals");
  stats_command->add_option("stream", stats_flags.stream_id, "stream id")->required();
  stats_command->add_option("--url", stats_flags.url, "server address")->envname("SLUICE_URL");

  DeadLetterFlags dlq_flags;
  auto* dlq_command =
      app.add_subcommand("dlq", "Dead letters: list, show ID, replay ID, delete ID");
  dlq_command->add_option("action", dlq_flags.action, "list, show, replay or delete")
      ->required()
      ->check(CLI::IsMember({"list", "show", "replay", "delete"}));
  dlq_command->add_option("id", dlq_flags.id, "dead letter id (the event id)");
  dlq_command->add_option("--url", dlq_flags.url, "server address")->envname("SLUICE_URL");
  dlq_command->add_option("--limit", dlq_flags.limit, "records per page (list)")
      ->check(CLI::Range(1, 1000));
  dlq_command->add_option("--cursor", dlq_flags.cursor, "next_cursor of the previous page (list)");

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
  return kExitUsage;
}
