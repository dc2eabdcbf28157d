#include "app/node.h"

#include <fmt/format.h>

#include <boost/asio/awaitable.hpp>

#include "core/logging.h"
#include "http/json_response.h"
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
  node->shared_ = dynamic_cast<storage::PostgresBackend*>(&backend);
  if (node->shared_ != nullptr) {
    // The partition count is the database's: instances hash to partitions by it.
    auto count = node->shared_->partition_count(config.engine.partitions);
    if (!count.ok()) {
      return Status(count.status().code(), fmt::format("storage: {}", count.status().message()));
    }
    if (*count != config.engine.partitions) {
      return failed_precondition(
          fmt::format("storage: the database was created with {} partitions, and "
                      "engine.partitions is {} here: set engine.partitions = {}",
                      *count, config.engine.partitions, *count));
    }
  }
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
  server_ = std::make_unique<http::Server>(
      http::ServerOptions{.host = config_.http.host,
                          .port = config_.http.port,
                          .threads = config_.http.threads,
                          .max_body_bytes = config_.http.max_body_bytes,
                          .max_header_bytes = config_.http.max_header_bytes,
                          .read_timeout = std::chrono::seconds(config_.http.read_timeout_seconds),
                          .max_connections = config_.http.max_connections},
      [this](http::Request& request) -> boost::asio::awaitable<http::Response> {
        if (http::Api* api = serving_.load()) co_return co_await api->handle(request);
        co_return http::status_response(unavailable(
            "this node stands by: another node holds the partitions; try that one, or again "
            "once this one has taken over"));
      });
  server_->set_stop_listener([this] { completions_.cancel_all(); });
  SLUICE_RETURN_IF_ERROR(server_->listen());
  address_ = fmt::format("{}:{}", config_.http.host, server_->port());
  if (shared_ == nullptr) {
    SLUICE_RETURN_IF_ERROR(activate());
    log_listening();
    return {};
  }

  // A UUID's last, random, characters: the first ones are the time.
  name_ = fmt::format("{}/{}", address_, ids_.next().substr(28));
  const std::chrono::milliseconds lease(config_.storage.lease_ms);
  shared_->identify(name_);
  shared_->set_fence_listener([this](unsigned, const Status& status) {
    if (failed_.exchange(true)) return;
    spdlog::error("{}: this node commits nothing more and stops", status.message());
    stop();
  });
  if (Status joined = shared_->heartbeat(name_, address_, lease); !joined.ok()) {
    return Status(joined.code(), fmt::format("storage: {}", joined.message()));
  }
  lease_renewer_.start("lease", [this](const std::stop_token& stop) { renew_lease(stop); });
  if (try_take_over(every_partition())) {
    SLUICE_RETURN_IF_ERROR(activate());
    log_listening();
  } else {
    spdlog::info("standing by on {} (storage {}, node {}): another live node holds the partitions",
                 address_, config_.storage.url.to_string(), name_);
    taker_.start("take-over", [this](const std::stop_token& stop) { take_over(stop); });
  }
  return {};
}

void Node::log_listening() const {
  // Tests and scripts read the port from this line when they ask for port 0.
  spdlog::info("listening on {} (storage {}, queue {}{})", address_,
               config_.storage.url.to_string(), config_.queue.name,
               name_.empty() ? "" : ", node " + name_);
}

Status Node::activate() {
  // The queue keeps a reference to the node's clock.
  auto intake = queue::IntakeQueue::open(backend_, clock_, config_.queue.name,
                                         {.partitions = config_.engine.partitions,
                                          .max_depth = config_.queue.max_depth,
                                          .sole_writer = shared_ == nullptr});
  if (!intake.ok()) {
    return Status(intake.status().code(), fmt::format("storage: {}", intake.status().message()));
  }
  intake_ = std::move(*intake);
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
  // Other nodes append to the queue too: the consumer looks for their messages ten times a
  // second.
  consumer_ = std::make_unique<pipeline::IntakeConsumer>(
      *intake_, *engine_, backend_, config_.pipeline.max_in_flight,
      std::chrono::milliseconds(shared_ != nullptr ? 100 : 0));
  if (Status recovered = engine_->start(); !recovered.ok()) {
    return Status(recovered.code(), fmt::format("storage: {}", recovered.message()));
  }
  api_ = std::make_unique<http::Api>(
      *intake_, dead_letters_, ids_, clock_,
      http::ApiOptions{config_.http.max_batch_events, address_, config_.http.api_keys,
                       [this] { return cluster(); }},
      *engine_, registry_, streams_, completions_, metrics_);
  serving_.store(api_.get());
  if (config_.pipeline.paused) {
    spdlog::warn("pipeline.paused is set: events are queued, not processed");
  } else {
    consumer_->start();
  }
  return {};
}

void Node::renew_lease(const std::stop_token& stop) {
  const std::chrono::milliseconds lease(config_.storage.lease_ms);
  const WakeOnStop wake_on_stop(stop, lease_mutex_, lease_wake_);
  bool failing = false;
  while (true) {
    {
      // Three renewals per lease: one lost renewal costs nothing.
      std::unique_lock lock(lease_mutex_);
      if (lease_wake_.wait_for(lock, lease / 3, [&stop] { return stop.stop_requested(); })) break;
    }
    const Status renewed = shared_->heartbeat(name_, address_, lease);
    if (!renewed.ok() && !failing) {
      spdlog::warn("cannot renew this node's lease: {}", renewed.message());
    } else if (renewed.ok() && failing) {
      spdlog::info("renewed this node's lease again");
    }
    failing = !renewed.ok();
  }
  // Stopping: whatever it held, others may take at once.
  (void)shared_->leave(name_);
}

bool Node::try_take_over(std::span<const unsigned> all) {
  const std::chrono::milliseconds lease(config_.storage.lease_ms);
  // Commits take milliseconds: a longer wait is for a holder paused mid-commit.
  const auto lock_wait =
      std::min<std::chrono::milliseconds>(lease / 4, std::chrono::seconds(1) / 2);
  auto taken = shared_->acquire(name_, all, lease, lock_wait);
  if (!taken.ok()) {
    spdlog::warn("cannot take the partitions: {}", taken.status().message());
    return false;
  }
  if (taken->size() != all.size()) return false;
  for (const auto& owner : *taken) shared_->hold(owner.partition, owner.epoch);
  spdlog::info("took over {} partitions at epoch {}", all.size(), taken->front().epoch);
  return true;
}

void Node::take_over(const std::stop_token& stopping) {
  const std::chrono::milliseconds lease(config_.storage.lease_ms);
  const WakeOnStop wake_on_stop(stopping, lease_mutex_, lease_wake_);
  const std::vector<unsigned> all = every_partition();
  while (true) {
    {
      std::unique_lock lock(lease_mutex_);
      if (lease_wake_.wait_for(lock, lease / 4,
                               [&stopping] { return stopping.stop_requested(); })) {
        return;
      }
    }
    if (!try_take_over(all)) continue;
    if (stopping.stop_requested()) return;  // what it took, leaving hands on at once
    if (Status active = activate(); !active.ok()) {
      spdlog::error("cannot serve after taking over: {}", active.message());
      failed_ = true;
      stop();
      return;
    }
    log_listening();
    return;
  }
}

std::vector<unsigned> Node::every_partition() const {
  std::vector<unsigned> all(config_.engine.partitions);
  for (unsigned i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

Result<storage::ClusterView> Node::cluster() {
  if (shared_ != nullptr) return shared_->cluster();
  storage::ClusterView view;
  view.partitions = config_.engine.partitions;
  view.nodes.push_back({address_, address_, 0, 0, true});
  for (unsigned i = 0; i < view.partitions; ++i) view.owners.push_back({i, address_, 0});
  return view;
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
  taker_.stop();  // a take-over under way finishes first
  if (consumer_) consumer_->halt();
  if (intake_) intake_->stop();
  // Answers the starts the consumer still waits for, even those storage has kept from committing.
  if (engine_) engine_->stop();
  if (consumer_) consumer_->stop();
  lease_renewer_.stop();
  // Nothing of this node commits any more; the backend may outlive it.
  if (shared_ != nullptr) {
    for (unsigned partition : every_partition()) shared_->release(partition);
  }
}

}  // namespace sluice::app
