// The read and management commands that print what the server answers: `sluice status ID`,
// `sluice stats STREAM`, `sluice dlq list|show|replay|delete`, `sluice cluster`.

#include <fmt/format.h>

#include "cli/commands.h"
#include "http/client.h"

namespace sluice::cli {
namespace {

namespace verb = boost::beast::http;

// Sends one request and prints the JSON answer. 2xx → 0, other answers → 1, bad URL → 2.
int print_answer(std::string_view command, const ServerAddress& server, verb::verb method,
                 const std::string& target) {
  auto client = http::Client::create(server.url, server.api_key);
  if (!client.ok()) {
    fmt::print(stderr, "sluice {}: {}\n", command, client.status().message());
    return kExitUsage;
  }
  auto response = (*client)->request(method, target);
  if (!response.ok()) {
    fmt::print(stderr, "sluice {}: {}\n", command, response.status().message());
    return kExitFailure;
  }
  if (response->status < 200 || response->status >= 300) {
    fmt::print(stderr, "sluice {}: HTTP {}: {}\n", command, response->status, response->body);
    return kExitFailure;
  }
  fmt::print("{}\n", response->body);
  return kExitOk;
}

}  // namespace

// Ids and names are sent as given; the server refuses malformed ones with a 400 naming them.
int status(const StatusFlags& flags) {
  return print_answer("status", flags.server, verb::verb::get,
                      fmt::format("/runtime/webhooks/durabletask/instances/{}{}", flags.instance_id,
                                  flags.history ? "?showHistory=true" : ""));
}

int stats(const StatsFlags& flags) {
  return print_answer("stats", flags.server, verb::verb::get,
                      fmt::format("/api/streams/{}/stats", flags.stream_id));
}

int dead_letters(const DeadLetterFlags& flags) {
  if (flags.action == "list") {
    return print_answer("dlq", flags.server, verb::verb::get,
                        fmt::format("/api/deadletter?limit={}{}", flags.limit,
                                    flags.cursor.empty() ? "" : "&cursor=" + flags.cursor));
  }
  if (flags.id.empty()) {
    fmt::print(stderr, "sluice dlq {}: needs the dead letter's id\n", flags.action);
    return kExitUsage;
  }
  if (flags.action == "show") {
    return print_answer("dlq", flags.server, verb::verb::get, "/api/deadletter/" + flags.id);
  }
  if (flags.action == "replay") {
    return print_answer("dlq", flags.server, verb::verb::post,
                        "/api/deadletter/" + flags.id + "/replay");
  }
  return print_answer("dlq", flags.server, verb::verb::delete_, "/api/deadletter/" + flags.id);
}

int cluster(const ServerAddress& server) {
  return print_answer("cluster", server, verb::verb::get, "/api/cluster");
}

}  // namespace sluice::cli
