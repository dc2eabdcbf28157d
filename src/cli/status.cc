// `sluice status ID`: one orchestration instance's status, as the management API reports it.

#include <fmt/format.h>

#include <boost/json.hpp>

#include "cli/commands.h"
#include "http/client.h"

namespace sluice::cli {

int status(const StatusFlags& flags) {
  auto client = http::Client::create(flags.url);
  if (!client.ok()) {
    fmt::print(stderr, "sluice status: {}\n", client.status().message());
    return kExitUsage;
  }
  // Ids are sent as given; the server refuses malformed ones with a 400 naming instanceId.
  auto response =
      (*client)->get(fmt::format("/runtime/webhooks/durabletask/instances/{}{}", flags.instance_id,
                                 flags.history ? "?showHistory=true" : ""));
  if (!response.ok()) {
    fmt::print(stderr, "sluice status: {}\n", response.status().message());
    return kExitFailure;
  }
  if (response->status != 200 && response->status != 202) {
    fmt::print(stderr, "sluice status: HTTP {}: {}\n", response->status, response->body);
    return kExitFailure;
  }
  fmt::print("{}\n", response->body);
  return kExitOk;
}

}  // namespace sluice::cli
