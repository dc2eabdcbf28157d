#include "http/api.h"

namespace sluice::http {

Api::Api(queue::IntakeQueue& intake, queue::DeadLetterStore& dead_letters, IdGenerator& ids,
         const Clock& clock, ApiOptions options, engine::Engine& engine, const Registry& registry,
         pipeline::StreamStore& streams, CompletionWaiters& completions, Metrics& metrics)
    : options_(std::move(options)),
      auth_(options_.api_keys),
      blocking_(2),
      forwarder_(options_.peers.owner_of ? Forwarder(options_.peers, options_.public_host)
                                         : Forwarder()),
      management_(engine, registry, blocking_, completions, forwarder_,
                  UriOptions{options_.public_host, auth_.enabled()}),
      events_(intake, ids, engine, completions, metrics, blocking_, auth_, management_,
              options_.max_batch_events),
      streams_(streams, blocking_),
      dead_letters_(dead_letters, engine, clock, blocking_, management_, forwarder_),
      ops_(intake, dead_letters, engine, metrics, clock, blocking_, options_.cluster,
           options_.connectors),
      routes_(declare_routes(), auth_) {}

// Work still on the pool may use any resource: it ends before they go.
Api::~Api() { blocking_.join(); }

std::vector<Route> Api::declare_routes() {
  std::vector<Route> routes;
  for (auto resource : {events_.routes(), streams_.routes(), dead_letters_.routes(), ops_.routes(),
                        management_.routes()}) {
    for (Route& route : resource) routes.push_back(std::move(route));
  }
  for (const Route& route : options_.connector_routes) routes.push_back(route);
  return routes;
}

}  // namespace sluice::http
