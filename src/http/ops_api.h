#pragma once

// OpsApi: what an operator watches: GET /healthz (open), GET /metrics (Prometheus text),
// GET /api/queue (the intake queue's depth, age and in-flight count, the dead letters', and what
// the connectors report) and
// GET /api/cluster (the nodes, whether each is live, and who holds each partition at what epoch).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "engine/engine.h"
#include "http/metrics.h"
#include "http/route_table.h"
#include "queue/dead_letter_store.h"
#include "queue/intake_queue.h"
#include "storage/cluster.h"

namespace sluice::http {

// Reads who holds what; blocks.
using ClusterSource = std::function<Result<storage::ClusterView>()>;

// What the connectors (wired by app) add to GET /api/queue and GET /metrics, read when asked.
struct ConnectorReport {
  boost::json::object queue;  // members added to /api/queue's body
  std::string metrics;        // Prometheus text: HELP, TYPE and samples of their own families
};
// Reads the connectors' report; may block on storage. Absent: there are none.
using ConnectorSource = std::function<Result<ConnectorReport>()>;

class OpsApi {
 public:
  // Every reference must outlive the object; `blocking` runs the storage reads.
  OpsApi(queue::IntakeQueue& intake, queue::DeadLetterStore& dead_letters, engine::Engine& engine,
         Metrics& metrics, const Clock& clock, boost::asio::thread_pool& blocking,
         ClusterSource cluster, ConnectorSource connectors)
      : intake_(intake),
        dead_letters_(dead_letters),
        engine_(engine),
        metrics_(metrics),
        clock_(clock),
        blocking_(blocking),
        cluster_(std::move(cluster)),
        connectors_(std::move(connectors)) {}

  std::vector<Route> routes();

 private:
  boost::asio::awaitable<Response> health();
  boost::asio::awaitable<Response> metrics();
  boost::asio::awaitable<Response> queue();
  boost::asio::awaitable<Response> cluster();

  queue::IntakeQueue& intake_;
  queue::DeadLetterStore& dead_letters_;
  engine::Engine& engine_;
  Metrics& metrics_;
  const Clock& clock_;
  boost::asio::thread_pool& blocking_;
  ClusterSource cluster_;
  ConnectorSource connectors_;
};

}  // namespace sluice::http
