#pragma once

// EventsApi: POST /api/events (scope ingest), the way events come in: one event, a JSON array or
// NDJSON, validated all or nothing, answered once durably queued (202 with the Durable Functions
// check-status URIs), or with ?wait= once processed or the wait runs out.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <vector>

#include "core/ids.h"
#include "core/logging.h"
#include "engine/engine.h"
#include "http/auth.h"
#include "http/completion_waiters.h"
#include "http/management_api.h"
#include "http/metrics.h"
#include "http/route_table.h"
#include "queue/intake_queue.h"

namespace sluice::http {

class EventsApi {
 public:
  // Every reference must outlive the object. `completions` is told of every instance that
  // finishes; `blocking` runs storage reads; `auth` checks the read scope a wait needs;
  // `management` makes the check-status URIs.
  EventsApi(queue::IntakeQueue& intake, IdGenerator& ids, engine::Engine& engine,
            CompletionWaiters& completions, Metrics& metrics, boost::asio::thread_pool& blocking,
            const Authenticator& auth, const ManagementApi& management,
            std::size_t max_batch_events)
      : intake_(intake),
        ids_(ids),
        engine_(engine),
        completions_(completions),
        metrics_(metrics),
        blocking_(blocking),
        auth_(auth),
        management_(management),
        max_batch_events_(max_batch_events) {}

  std::vector<Route> routes();

 private:
  boost::asio::awaitable<Response> post(Request& request);

  queue::IntakeQueue& intake_;
  IdGenerator& ids_;
  engine::Engine& engine_;
  CompletionWaiters& completions_;
  Metrics& metrics_;
  boost::asio::thread_pool& blocking_;
  const Authenticator& auth_;
  const ManagementApi& management_;
  const std::size_t max_batch_events_;
  LogEvery refusals_{std::chrono::seconds(1)};  // while storage refuses, every batch is refused
};

}  // namespace sluice::http
