#pragma once

// Node: one sluice server assembled from a Config — storage, the intake queue, dead letters, the
// pipeline's orchestrations, the engine, the intake consumer and the HTTP API. It is the one place
// that wires them: `sluice serve`, the in-process test server and the test hosts all use it, so
// `?wait=`, `/metrics` and authorisation behave in every one of them as in production.
//
//   auto node = app::Node::open(config);        // storage opened and checked, nothing running
//   (*node)->registry().add_orchestrator(…);    // optional: more orchestrators, before start()
//   SLUICE_RETURN_IF_ERROR((*node)->start());   // recovery, then listening and consuming
//   (*node)->run();                             // serves until stop() or SIGINT/SIGTERM, drains
//
// On PostgreSQL, nodes share the database and its partitions. Every node takes ingest and
// answers reads; each runs the partitions it holds, about an equal share: a node renews its lease
// (storage.lease_ms) from a thread of its own, and another thread takes the partitions nobody
// live holds, up to its share, and gives back what is beyond its share when nodes join. Each
// taking raises the partition's epoch, and every commit is fenced by it: a node that was paused,
// or cut off past its lease, commits nothing more for the partitions others took meanwhile, and
// gives them up when it learns of that.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "app/config.h"
#include "connectors/azure/cosmos_sink.h"
#include "connectors/azure/queue_forwarder.h"
#include "connectors/azure/queue_source.h"
#include "connectors/twitch/eventsub_api.h"
#include "connectors/twitch/subscription_log.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/worker.h"
#include "engine/engine.h"
#include "http/api.h"
#include "http/completion_waiters.h"
#include "http/metrics.h"
#include "http/server.h"
#include "pipeline/alert_feed.h"
#include "pipeline/intake_consumer.h"
#include "pipeline/stream_store.h"
#include "queue/dead_letter_store.h"
#include "queue/intake_queue.h"
#include "storage/cluster.h"
#include "storage/postgres/postgres_backend.h"
#include "storage/rocks/rocks_backend.h"
#include "webhooks/webhook_sender.h"

namespace sluice::app {

class Node {
 public:
  // Opens storage. An error names the key at fault ("storage: …").
  static Result<std::unique_ptr<Node>> open(const Config& config);
  // The same on `backend` instead of the storage the configuration names; `backend` must outlive
  // the node (the tests use one that injects faults).
  static Result<std::unique_ptr<Node>> open(const Config& config, storage::Backend& backend);
  // Stops what still runs, in order: HTTP, the consumer, the intake queue, the engine, the lease.
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The pipeline's orchestrations and activities are registered; add (or replace) others before
  // start().
  Registry& registry() { return registry_; }

  // Listens, recovers the engine (on PostgreSQL: takes its share of the partitions), starts
  // taking events off the intake queue unless pipeline.paused is set, and logs "listening on
  // HOST:PORT".
  Status start();
  // The port listened on (the system's choice when the configuration asks for port 0).
  std::uint16_t port() const { return server_->port(); }
  // Serves on this thread and the configured others until stop(), then commits what was accepted
  // and stops the engine.
  void run();
  // Thread-safe; may come before run() returns or instead of it.
  void stop();

  // Who holds what: this node alone on RocksDB; the database's view on PostgreSQL.
  Result<storage::ClusterView> cluster();

  // Every HTTP route, as declared; valid once the node serves.
  const http::RouteTable& routes() const { return api_->routes(); }

  const Clock& clock() const { return clock_; }
  queue::DeadLetterStore& dead_letters() { return dead_letters_; }
  pipeline::StreamStore& streams() { return streams_; }

 private:
  static Result<std::unique_ptr<Node>> open_on(const Config& config,
                                               std::unique_ptr<storage::Backend> owned,
                                               storage::Backend& backend);
  Node(const Config& config, std::unique_ptr<storage::Backend> owned, storage::Backend& backend);
  // Opens the intake queue and the engine (recovering every partition, unless nodes share the
  // storage) and begins to answer and to consume.
  Status activate();
  // PostgreSQL: renews this node's lease until stopped; then ends it, so others need not wait.
  void renew_lease(const std::stop_token& stop);
  // PostgreSQL: gives up the partitions others took, takes those nobody live holds up to this
  // node's share, and gives back what is beyond it.
  void balance();
  // PostgreSQL: balances every quarter lease, and at once when the fence refused a commit.
  void keep_balanced(const std::stop_token& stopping);
  // PostgreSQL: closes the queue lanes of writers not among `live` and forgets those drained,
  // every ten seconds or so (balancer thread).
  void tidy_lanes(const std::set<std::string, std::less<>>& live);
  // Takes `partition` from the database and runs it here; false if another live node holds it.
  bool take(unsigned partition);
  // Stops running `partitions` here; with `hand_back`, tells the database others may take them.
  void give_up(std::span<const unsigned> partitions, bool hand_back);
  std::vector<unsigned> every_partition() const;
  // PostgreSQL: the address of the node that runs `instance_id`, if another does, as the last
  // balance() saw the cluster.
  std::optional<std::string> runs_elsewhere(std::string_view instance_id) const;
  // PostgreSQL: the addresses of the other live nodes, as the last balance() saw them.
  std::vector<std::string> other_nodes() const;
  // How the API finds the other nodes: nothing unless nodes share storage.
  http::Peers peers();
  // The connectors' figures for /api/queue and /metrics; blocks on storage.
  Result<http::ConnectorReport> connectors_report();
  // The Azure connectors' part of it.
  Status add_azure_report(http::ConnectorReport& report);
  void log_listening() const;
  void drain();

  const Config config_;
  SystemClock clock_;
  IdGenerator ids_{clock_};
  std::unique_ptr<storage::Backend> owned_backend_;  // unless the caller owns it
  storage::Backend& backend_;
  storage::PostgresBackend* shared_ = nullptr;  // the backend, when several nodes may share it
  std::string name_;                            // unique to this process: address/random
  std::string address_;                         // host:port listened on
  std::unique_ptr<queue::IntakeQueue> intake_;  // set by activate()
  queue::Outbox dead_letter_outbox_;  // records for azure.deadletter_queue, when it is used
  queue::DeadLetterStore dead_letters_;
  queue::Outbox cosmos_outbox_;  // changes for azure.cosmos, when it is set
  queue::Outbox poison_outbox_;  // bodies for the poison queue of azure.queue
  pipeline::StreamStore streams_;
  pipeline::AlertFeed alerts_;
  webhooks::WebhookSender webhook_sender_;
  Registry registry_;
  http::CompletionWaiters completions_;  // told of every instance that finishes
  http::Metrics metrics_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<pipeline::IntakeConsumer> consumer_;
  std::unique_ptr<azure::QueueSource> azure_source_;      // when azure.storage is set,
  std::unique_ptr<azure::QueueForwarder> poison_sender_;  // with this
  std::unique_ptr<azure::QueueForwarder> azure_mirror_;   // and with azure.deadletter_queue
  std::unique_ptr<azure::CosmosSink> cosmos_sink_;        // when azure.cosmos is set
  twitch::SubscriptionLog twitch_subscriptions_;
  std::unique_ptr<twitch::EventSubApi> eventsub_;  // when twitch.secret is set
  std::unique_ptr<http::Api> api_;
  std::atomic<http::Api*> serving_{nullptr};  // api_ once the node is active: requests go there
  std::unique_ptr<http::Server> server_;
  // Partitions whose commit the fence refused: another node took them.
  std::array<std::atomic<bool>, storage::kMaxPartitions> lost_{};
  mutable std::mutex owners_mutex_;
  std::vector<std::string> owner_addresses_;  // guarded by owners_mutex_; per partition, or empty
  std::vector<std::string> other_addresses_;  // guarded by owners_mutex_
  std::mutex lease_mutex_;
  std::condition_variable lease_wake_;
  bool woken_ = false;          // guarded by lease_mutex_: the balancer has something to do now
  Micros lanes_tidied_at_ = 0;  // balancer thread only
  Worker lease_renewer_;
  Worker balancer_;
  bool drained_ = false;
};

}  // namespace sluice::app
