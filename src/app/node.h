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

#include <cstdint>
#include <memory>

#include "app/config.h"
#include "core/clock.h"
#include "core/ids.h"
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
  // Stops what still runs, in order: HTTP, the consumer, the intake queue, the engine.
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The pipeline's orchestrations and activities are registered; add (or replace) others before
  // start().
  Registry& registry() { return registry_; }

  // Recovers the engine, then listens and logs "listening on HOST:PORT", then starts taking
  // events off the intake queue unless pipeline.paused is set.
  Status start();
  // The port listened on (the system's choice when the configuration asks for port 0).
  std::uint16_t port() const { return server_->port(); }
  // Serves on this thread and the configured others until stop(), then commits what was accepted
  // and stops the engine.
  void run();
  // Thread-safe; may come before run() returns or instead of it.
  void stop();

  // Every HTTP route, as declared; valid after start().
  const http::RouteTable& routes() const { return api_->routes(); }

  const Clock& clock() const { return clock_; }
  queue::DeadLetterStore& dead_letters() { return dead_letters_; }
  pipeline::StreamStore& streams() { return streams_; }

 private:
  static Result<std::unique_ptr<Node>> open_on(const Config& config,
                                               std::unique_ptr<storage::Backend> owned,
                                               storage::Backend& backend);
  Node(const Config& config, std::unique_ptr<storage::Backend> owned, storage::Backend& backend);
  void drain();

  const Config config_;
  SystemClock clock_;
  IdGenerator ids_{clock_};
  std::unique_ptr<storage::Backend> owned_backend_;  // unless the caller owns it
  storage::Backend& backend_;
  std::unique_ptr<queue::IntakeQueue> intake_;  // set by open()
  queue::DeadLetterStore dead_letters_;
  pipeline::StreamStore streams_;
  pipeline::AlertFeed alerts_;
  webhooks::WebhookSender webhook_sender_;
  Registry registry_;
  http::CompletionWaiters completions_;  // told of every instance that finishes
  http::Metrics metrics_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<pipeline::IntakeConsumer> consumer_;
  std::unique_ptr<http::Api> api_;
  std::unique_ptr<http::Server> server_;
  bool drained_ = false;
};

}  // namespace sluice::app
