#pragma once

// The `sluice` subcommands. Each returns the process exit code: 0 ok, 1 failure, 2 usage or
// configuration error.

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct ServeFlags {
  std::optional<std::string> config_file;
  std::optional<std::string> listen;
  std::optional<std::string> data;
  std::vector<std::string> settings;  // KEY=VALUE
};
int serve(const ServeFlags& flags);

struct SendFlags {
  std::string url = "http://127.0.0.1:7070";
  std::optional<std::string> file;  // NDJSON; "-" for stdin
  std::optional<std::string> event_id, stream_id, type, user_id, user_name, amount, currency, tier,
      message, occurred_at;
  std::optional<long long> bits, months;
  bool gifted = false;
  std::size_t batch_size = 1000;
};
int send(const SendFlags& flags);

struct StatusFlags {
  std::string url = "http://127.0.0.1:7070";
  std::string instance_id;
  bool history = false;
};
// Prints an orchestration instance's status (JSON). Exit 1 if there is no such instance.
int status(const StatusFlags& flags);

struct StatsFlags {
  std::string url = "http://127.0.0.1:7070";
  std::string stream_id;
};
// Prints a stream's stats (JSON). Exit 1 if the stream was never seen.
int stats(const StatsFlags& flags);

struct DeadLetterFlags {
  std::string url = "http://127.0.0.1:7070";
  std::string action;  // list, show, replay, delete
  std::string id;      // for show, replay, delete
  std::size_t limit = 50;
  std::string cursor;
};
// Lists, shows, replays or deletes dead letters, printing the server's JSON answer.
int dead_letters(const DeadLetterFlags& flags);

}  // namespace sluice::cli
