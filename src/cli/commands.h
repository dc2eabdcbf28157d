#pragma once

// The `sluice` subcommands. Each returns the process exit code: 0 ok, 1 failure, 2 usage or
// configuration error.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Where the client commands find the server, and the API key they present (if any).
struct ServerAddress {
  std::string url = "http://127.0.0.1:7070";
  std::string api_key;
};

struct ServeFlags {
  std::optional<std::string> config_file;
  std::optional<std::string> listen;
  std::optional<std::string> data;
  std::vector<std::string> settings;  // KEY=VALUE
  bool help_settings = false;         // print every setting and exit
};
int serve(const ServeFlags& flags);

struct SendFlags {
  ServerAddress server;
  std::optional<std::string> file;  // NDJSON; "-" for stdin
  std::optional<std::string> event_id, stream_id, type, user_id, user_name, amount, currency, tier,
      message, occurred_at;
  std::optional<long long> bits, months;
  bool gifted = false;
  std::size_t batch_size = 1000;
};
int send(const SendFlags& flags);

struct StatusFlags {
  ServerAddress server;
  std::string instance_id;
  bool history = false;
};
// Prints an orchestration instance's status (JSON). Exit 1 if there is no such instance.
int status(const StatusFlags& flags);

struct StatsFlags {
  ServerAddress server;
  std::string stream_id;
};
// Prints a stream's stats (JSON). Exit 1 if the stream was never seen.
int stats(const StatsFlags& flags);

// Prints the nodes sharing the database, whether each is live, and who holds each partition.
int cluster(const ServerAddress& server);

struct DeadLetterFlags {
  ServerAddress server;
  std::string action;  // list, show, replay, delete
  std::string id;      // for show, replay, delete
  std::size_t limit = 50;
  std::string cursor;
};
// Lists, shows, replays or deletes dead letters, printing the server's JSON answer.
int dead_letters(const DeadLetterFlags& flags);

struct SimulateFlags {
  ServerAddress server;
  unsigned streams = 100;
  double rate = 1000;       // events/s in total; 0: as fast as the server takes them
  double duration = 10;     // seconds of sending
  std::int64_t events = 0;  // stop after this many; 0: the duration decides
  std::size_t batch = 1;    // events per request; NDJSON when more than one
  unsigned connections = 4;
  std::int64_t burst = 0;  // events per burst; 0: a steady rate
  double burst_every = 5;  // seconds from one burst to the next
  double drain_timeout = 300;
  bool quiet = false;  // no progress line
};
// Sends simulated traffic, waits for it to be processed, checks every stream's stats and reports
// throughput and latency. Exit 1 if any stats differ or an instance did not finish.
int simulate(const SimulateFlags& flags);

struct BenchFlags {
  ServerAddress server;
  bool external = false;              // --url given: benchmark that server, start none
  std::optional<std::string> data;    // data directory of the started server; default temporary
  std::vector<std::string> settings;  // KEY=VALUE for the started server
  std::int64_t events = 200'000;
  std::size_t batch = 1;     // events per request; NDJSON when more than one
  double rate = 0;           // events/s; 0: closed loop
  unsigned connections = 0;  // 0: 64 for single events, 4 for batches, up to 1000 at a rate
  unsigned streams = 100;
  double drain_timeout = 600;
  bool json = false;
  bool accept_only = false;  // report acceptance and stop, leaving the events to the server
  // Set: each event goes as a Twitch EventSub notification signed with this secret.
  std::optional<std::string> eventsub_secret;
};
// Measures the whole system end to end: throughput, latency from post to Completed, and the
// server's memory, CPU time and disk writes per event. Exit 1 if an event was lost, not
// Completed, or miscounted.
int bench(const BenchFlags& flags);

}  // namespace sluice::cli
