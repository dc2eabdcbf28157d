#include "app/node.h"

#include <fmt/format.h>

#include "core/logging.h"
#include "pipeline/envelope.h"
#include "pipeline/process_event.h"
#include "storage/postgres/postgres_backend.h"
#include "storage/rocks/rocks_backend.h"

namespace sluice::app {

namespace {

Result<std::unique_ptr<storage::Backend>> open_backend(const storage::StorageSettings& storage) {
  if (storage.url.scheme == "postgresql") {
    SLUICE_ASSIGN_OR_RETURN(auto backend, storage::PostgresBackend::open(storage.url.location));
    return std::unique_ptr<storage::Backend>(std::move(backend));
  }
  SLUICE_ASSIGN_OR_RETURN(
      auto backend, storage::RocksBackend::open(storage.url.location, storage.min_free_mb << 20));
  return std::unique_ptr<storage::Backend>(std::move(backend));
}

}  // namespace

Result<std::unique_ptr<Node>> Node::open(const Config& config) {
  auto backend = open_backend(config.storage);
  if (!backend.ok()) {
    return Status(backend.status().code(),
                  fmt::format("storage: {} ({})", backend.status().message(),
                              config.storage.url.to_string()));
  }
  storage::Backend& opened = **backend;
  return open_on(config, std::move(*backend), opened);
}

Result<std::unique_ptr<Node>> Node::open(const Config& config, storage::Backend& backend) {
  return open_on(config, nullptr, backend);
}

Result<std::unique_ptr<Node>> Node::open_on(const Config& config,
                                            std::unique_ptr<storage::Backend> owned,
                                            storage::Backend& backend) {
  std::unique_ptr<Node> node(new Node(config, std::move(owned), backend));
  // The queue keeps a reference to the node's clock.
  auto intake = queue::IntakeQueue::open(node->backend_, node->clock_, config.queue.name,
                                         config.queue.max_depth);
  if (!intake.ok()) {
    return Status(intake.status().code(), fmt::format("storage: {}", intake.status().message()));
  }
  node->intake_ = std::move(*intake);
  return node;
}

Node::Node(const Config& config, std::unique_ptr<storage::Backend> owned, storage::Backend& backend)
    : config_(config),
      owned_backend_(std::move(owned)),
      backend_(backend),
      dead_letters_(backend_, config.queue.deadletter),
      streams_(backend_) {
  pipeline::register_pipeline(
      registry_, streams_, dead_letters_, alerts_, webhook_sender_, clock_,
      pipeline::PipelineOptions{config_.pipeline.retry(), config_.pipeline.webhooks});
}

Node::~Node() {
  stop();
  drain();
}

Status Node::start() {
  engine_ = std::make_unique<engine::Engine>(
      backend_, clock_, registry_,
      engine::EngineOptions{
          .partitions = config_.engine.partitions,
          .activity_workers = config_.engine.activity_workers,
          .max_active_instances = config_.engine.max_active_instances,
          .retention = static_cast<Micros>(config_.engine.retention_hours) * 3'600'000'000,
          .on_finished = [this](const engine::InstanceRecord& record) {
            consumer_->instance_finished();
            completions_.notify(record);
            const auto envelope = pipeline::open_envelope(record.input);
            metrics_.instance_finished(
                record.status,
                envelope ? std::optional(clock_.now() - envelope->received_at) : std::nullopt);
          }});
  // Before the engine starts: it tells the consumer of every instance that finishes.
  consumer_ = std::make_unique<pipeline::IntakeConsumer>(*intake_, *engine_, backend_,
                                                         config_.pipeline.max_in_flight);
  if (Status recovered = engine_->start(); !recovered.ok()) {
    return Status(recovered.code(), fmt::format("storage: {}", recovered.message()));
  }
  api_ = std::make_unique<http::Api>(
      *intake_, dead_letters_, ids_, clock_,
      http::ApiOptions{config_.http.max_batch_events,
                       fmt::format("{}:{}", config_.http.host, config_.http.port),
                       config_.http.api_keys},
      *engine_, registry_, streams_, completions_, metrics_);
  server_ = std::make_unique<http::Server>(
      http::ServerOptions{.host = config_.http.host,
                          .port = config_.http.port,
                          .threads = config_.http.threads,
                          .max_body_bytes = config_.http.max_body_bytes,
                          .max_header_bytes = config_.http.max_header_bytes,
                          .read_timeout = std::chrono::seconds(config_.http.read_timeout_seconds),
                          .max_connections = config_.http.max_connections},
      [this](http::Request& request) { return api_->handle(request); });
  server_->set_stop_listener([this] { completions_.cancel_all(); });
  SLUICE_RETURN_IF_ERROR(server_->listen());
  // Tests and scripts read the port from this line when they ask for port 0.
  spdlog::info("listening on {}:{} (storage {}, queue {})", config_.http.host, server_->port(),
               config_.storage.url.to_string(), config_.queue.name);
  if (config_.pipeline.paused) {
    spdlog::warn("pipeline.paused is set: events are queued, not processed");
  } else {
    consumer_->start();
  }
  return {};
}

void Node::run() {
  server_->run();
  spdlog::info("stopped accepting; committing what was accepted");
  drain();
  spdlog::info("stopped");
}

void Node::stop() {
  if (server_) server_->stop();
}

void Node::drain() {
  if (drained_) return;
  drained_ = true;
  if (consumer_) consumer_->stop();
  if (intake_) intake_->stop();
  if (engine_) engine_->stop();
}

}  // namespace sluice::app
