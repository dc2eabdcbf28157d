#include "app/node.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <map>
#include <set>

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
    boost::system::error_code invalid;
    const auto host = boost::asio::ip::make_address(config.http.host, invalid);
    if (!invalid && host.is_unspecified()) {
      // It registers that address, and the others send calls about its instances there.
      return invalid_argument(fmt::format(
          "listen: nodes that share a database call each other at the address they listen on; "
          "listen on one the others can reach, not {}",
          config.http.host));
    }
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
      dead_letter_outbox_(backend_, clock_, "azure-deadletter"),
      dead_letters_(backend_, config.queue.deadletter),
      cosmos_outbox_(backend_, clock_, "azure-cosmos"),
      poison_outbox_(backend_, clock_, "azure-poison"),
      streams_(backend_),
      twitch_subscriptions_(backend_) {
  if (config_.azure.storage && !config_.azure.deadletter_queue.empty()) {
    dead_letters_.mirror_to(dead_letter_outbox_);
  }
  if (config_.azure.cosmos) streams_.mirror_to(cosmos_outbox_);
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
        co_return http::status_response(unavailable("this node is starting"));
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
  shared_->set_fence_listener([this](unsigned partition, const Status& status) {
    if (lost_.at(partition).exchange(true)) return;
    spdlog::warn("{}: this node gives partition {} up", status.message(), partition);
    {
      std::lock_guard lock(lease_mutex_);
      woken_ = true;
    }
    lease_wake_.notify_all();
  });
  if (Status joined = shared_->heartbeat(name_, address_, lease); !joined.ok()) {
    return Status(joined.code(), fmt::format("storage: {}", joined.message()));
  }
  lease_renewer_.start("lease", [this](const std::stop_token& stop) { renew_lease(stop); });
  SLUICE_RETURN_IF_ERROR(activate());
  balance();  // a node alone takes every partition before it says it listens
  log_listening();
  balancer_.start("balance", [this](const std::stop_token& stop) { keep_balanced(stop); });
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
                                          .sole_writer = shared_ == nullptr,
                                          .writer = name_});
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
            // Counted before the waiters are told: who waited for an instance sees it in /metrics.
            const auto envelope = pipeline::open_envelope(record.input);
            metrics_.instance_finished(
                record.status,
                envelope ? std::optional(clock_.now() - envelope->received_at) : std::nullopt);
            consumer_->instance_finished();
            completions_.notify(record);
          }});
  // Before the engine starts: it tells the consumer of every instance that finishes. Where other
  // nodes append to the queue too, it looks for their messages ten times a second.
  consumer_ = std::make_unique<pipeline::IntakeConsumer>(
      *intake_, *engine_, backend_, config_.pipeline.max_in_flight,
      std::chrono::milliseconds(shared_ != nullptr ? 100 : 0));
  // Where nodes share storage, partitions are taken one by one (balance()).
  const Status started = shared_ == nullptr ? engine_->start() : Status();
  if (!started.ok()) {
    return Status(started.code(), fmt::format("storage: {}", started.message()));
  }
  if (shared_ != nullptr) {
    engine_->sweep();
    completions_.poll_elsewhere([engine = engine_.get()](const std::string& instance_id) {
      return !engine->runs(engine->partition_of(instance_id));
    });
  }
  // Before the API serves: /api/queue and /metrics read what these are. Where nodes share
  // storage, the node that runs partition 0 empties the outboxes.
  auto sends = [this] { return shared_ == nullptr || engine_->runs(0); };
  if (config_.azure.storage) {
    azure_source_ = std::make_unique<azure::QueueSource>(
        config_.azure, azure::QueueSource::Options{.max_events = config_.http.max_batch_events},
        *intake_, dead_letters_, poison_outbox_, backend_, clock_, ids_);
    azure_source_->start();
    // Poison bodies go as they came; dead-letter records as azure.message_encoding says.
    poison_sender_ = std::make_unique<azure::QueueForwarder>(
        *config_.azure.storage, "", false, poison_outbox_, backend_, clock_, sends);
    poison_sender_->start();
    if (!config_.azure.deadletter_queue.empty()) {
      azure_mirror_ = std::make_unique<azure::QueueForwarder>(
          *config_.azure.storage, config_.azure.deadletter_queue,
          config_.azure.message_encoding == "base64", dead_letter_outbox_, backend_, clock_, sends);
      azure_mirror_->start();
    }
  }
  if (config_.azure.cosmos) {
    cosmos_sink_ = std::make_unique<azure::CosmosSink>(config_.azure, cosmos_outbox_, streams_,
                                                       backend_, clock_, sends);
    cosmos_sink_->start();
  }
  std::vector<http::Route> connector_routes;
  if (config_.twitch.secret) {
    if (Status loaded = twitch_subscriptions_.load(); !loaded.ok()) {
      return Status(loaded.code(), fmt::format("storage: {}", loaded.message()));
    }
    eventsub_ =
        std::make_unique<twitch::EventSubApi>(config_.twitch, *intake_, dead_letters_, backend_,
                                              twitch_subscriptions_, metrics_, clock_, ids_);
    connector_routes = eventsub_->routes();
  }
  const bool connectors = config_.azure.storage || config_.azure.cosmos || eventsub_;
  api_ = std::make_unique<http::Api>(
      *intake_, dead_letters_, ids_, clock_,
      http::ApiOptions{
          .max_batch_events = config_.http.max_batch_events,
          .public_host = address_,
          .api_keys = config_.http.api_keys,
          .cluster = [this] { return cluster(); },
          .peers = peers(),
          .connectors = connectors ? http::ConnectorSource([this] { return connectors_report(); })
                                   : http::ConnectorSource(),
          .connector_routes = std::move(connector_routes)},
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

void Node::keep_balanced(const std::stop_token& stopping) {
  const std::chrono::milliseconds lease(config_.storage.lease_ms);
  const WakeOnStop wake_on_stop(stopping, lease_mutex_, lease_wake_);
  while (true) {
    {
      std::unique_lock lock(lease_mutex_);
      lease_wake_.wait_for(lock, lease / 4,
                           [&stopping, this] { return stopping.stop_requested() || woken_; });
      if (stopping.stop_requested()) return;
      woken_ = false;
    }
    balance();
  }
}

void Node::balance() {
  const unsigned count = config_.engine.partitions;
  // Refused by the fence: the database says the same, but the engine must stop them first.
  std::vector<unsigned> lost;
  for (unsigned partition = 0; partition < count; ++partition) {
    if (lost_[partition].exchange(false) && engine_->runs(partition)) lost.push_back(partition);
  }
  if (!lost.empty()) give_up(lost, /*hand_back=*/false);

  auto view = shared_->cluster();
  if (!view.ok()) {
    spdlog::warn("cannot see who holds the partitions: {}", view.status().message());
    return;
  }
  std::set<std::string, std::less<>> live;
  std::map<std::string, std::string, std::less<>> addresses;
  for (const auto& node : view->nodes) {
    if (!node.live) continue;
    live.insert(node.name);
    addresses.emplace(node.name, node.address);
  }
  {
    std::lock_guard lock(owners_mutex_);
    other_addresses_.clear();
    for (const auto& [name, address] : addresses) {
      const bool known = std::find(other_addresses_.begin(), other_addresses_.end(), address) !=
                         other_addresses_.end();
      if (name != name_ && address != address_ && !known) other_addresses_.push_back(address);
    }
    owner_addresses_.assign(count, std::string());
    for (const auto& owner : view->owners) {
      auto address = addresses.find(owner.owner);
      if (address != addresses.end() && owner.partition < count) {
        owner_addresses_[owner.partition] = address->second;
      }
    }
  }
  tidy_lanes(live);
  live.insert(name_);  // so far as this node knows, it is
  const auto share = static_cast<unsigned>((count + live.size() - 1) / live.size());
  std::vector<unsigned> mine;
  std::vector<unsigned> taken_away;
  std::vector<unsigned> free;
  for (const auto& owner : view->owners) {
    const bool runs = engine_->runs(owner.partition);
    if (owner.owner == name_ && runs) {
      mine.push_back(owner.partition);
    } else if (runs) {
      taken_away.push_back(owner.partition);  // while this node was paused or cut off
    } else if (owner.owner.empty() || owner.owner == name_ || !live.contains(owner.owner)) {
      free.push_back(owner.partition);
    }
  }
  if (!taken_away.empty()) give_up(taken_away, /*hand_back=*/false);
  if (mine.size() > share) {
    give_up(std::span(mine).subspan(share), /*hand_back=*/true);
    return;
  }
  std::vector<unsigned> took;
  for (unsigned partition : free) {
    if (mine.size() + took.size() >= share) break;
    if (take(partition)) took.push_back(partition);
  }
  if (!took.empty()) spdlog::info("took partitions {}", fmt::join(took, ","));
}

void Node::tidy_lanes(const std::set<std::string, std::less<>>& live) {
  constexpr Micros kTidyEvery = 10'000'000;
  if (clock_.now() - lanes_tidied_at_ < kTidyEvery) return;
  lanes_tidied_at_ = clock_.now();
  // A node killed leaves its lane open; once it is no longer live, it gains no message unless
  // it wakes, and then it opens its lane again.
  auto closed =
      intake_->close_lanes_of([&live](std::string_view writer) { return !live.contains(writer); });
  Result<std::size_t> forgotten =
      closed.ok() ? intake_->forget_drained_lanes() : Result<std::size_t>(closed.status());
  if (!forgotten.ok()) {
    spdlog::warn("queue {}: cannot tidy the lanes of nodes gone: {}", config_.queue.name,
                 forgotten.status().message());
  } else if (*closed > 0 || *forgotten > 0) {
    spdlog::info("queue {}: closed {} lanes of nodes gone, forgot {} drained", config_.queue.name,
                 *closed, *forgotten);
  }
}

bool Node::take(unsigned partition) {
  const std::chrono::milliseconds lease(config_.storage.lease_ms);
  // Commits take milliseconds: a longer wait is for a holder paused mid-commit.
  const auto lock_wait =
      std::min<std::chrono::milliseconds>(lease / 4, std::chrono::seconds(1) / 2);
  const std::array<unsigned, 1> wanted = {partition};
  auto taken = shared_->acquire(name_, wanted, lease, lock_wait);
  if (!taken.ok()) {
    spdlog::warn("cannot take partition {}: {}", partition, taken.status().message());
    return false;
  }
  if (taken->empty()) return false;  // another live node holds it
  shared_->hold(partition, taken->front().epoch);
  if (Status recovered = engine_->take(wanted); !recovered.ok()) {
    spdlog::warn("cannot recover partition {}: {}", partition, recovered.message());
    shared_->release(partition);
    (void)shared_->give_back(name_, wanted);
    return false;
  }
  return true;
}

void Node::give_up(std::span<const unsigned> partitions, bool hand_back) {
  engine_->give_up(partitions);  // its turn under way ends first
  for (unsigned partition : partitions) shared_->release(partition);
  if (!hand_back) return;
  if (Status given = shared_->give_back(name_, partitions); !given.ok()) {
    // Others take them once this node's lease runs out.
    spdlog::warn("cannot give partitions back: {}", given.message());
    return;
  }
  spdlog::info("gave partitions {} back", fmt::join(partitions, ","));
}

std::vector<unsigned> Node::every_partition() const {
  std::vector<unsigned> all(config_.engine.partitions);
  for (unsigned i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

std::optional<std::string> Node::runs_elsewhere(std::string_view instance_id) const {
  const unsigned partition = engine_->partition_of(instance_id);
  if (engine_->runs(partition)) return std::nullopt;
  std::lock_guard lock(owners_mutex_);
  if (partition >= owner_addresses_.size()) return std::nullopt;
  const std::string& address = owner_addresses_[partition];
  if (address.empty() || address == address_) return std::nullopt;
  return address;
}

http::Peers Node::peers() {
  if (shared_ == nullptr) return {};
  return {.owner_of = [this](std::string_view id) { return runs_elsewhere(id); },
          .others = [this] { return other_nodes(); }};
}

std::vector<std::string> Node::other_nodes() const {
  std::lock_guard lock(owners_mutex_);
  return other_addresses_;
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

Result<http::ConnectorReport> Node::connectors_report() {
  http::ConnectorReport report;
  if (config_.azure.storage || config_.azure.cosmos) {
    SLUICE_RETURN_IF_ERROR(add_azure_report(report));
  }
  if (eventsub_) report.metrics += eventsub_->metrics_text();
  return report;
}

Status Node::add_azure_report(http::ConnectorReport& report) {
  boost::json::object azure;
  auto out = std::back_inserter(report.metrics);
  auto counter = [&out](std::string_view name, std::string_view help, std::uint64_t value) {
    fmt::format_to(out, "# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
  };
  // An outbox's depth and its oldest entry's age, for /api/queue and for the gauges below.
  struct OutboxReading {
    std::string name;
    std::int64_t depth = 0;
    std::optional<Micros> age;
  };
  std::vector<OutboxReading> outboxes;
  auto read_outbox = [this, &outboxes](queue::Outbox& outbox) -> Result<boost::json::object> {
    OutboxReading reading{outbox.name()};
    SLUICE_ASSIGN_OR_RETURN(reading.depth, outbox.depth());
    SLUICE_ASSIGN_OR_RETURN(auto oldest, outbox.oldest(1));
    if (!oldest.empty()) reading.age = std::max<Micros>(0, clock_.now() - oldest[0].added_at);
    boost::json::object fields{
        {"outbox_depth", reading.depth},
        {"oldest_age_ms",
         reading.age ? boost::json::value(*reading.age / 1000) : boost::json::value(nullptr)}};
    outboxes.push_back(std::move(reading));
    return fields;
  };

  if (azure_source_) {
    const auto& counts = azure_source_->counters();
    const std::uint64_t messages = counts.messages.load(std::memory_order_relaxed);
    const std::uint64_t events = counts.events.load(std::memory_order_relaxed);
    const std::uint64_t poisoned = counts.poisoned.load(std::memory_order_relaxed);
    const std::uint64_t failures = counts.failures.load(std::memory_order_relaxed);
    SLUICE_ASSIGN_OR_RETURN(auto poison, read_outbox(poison_outbox_));
    poison["name"] = config_.azure.queue + "-poison";
    poison["sent"] = poison_sender_->sent();
    poison["failures"] = poison_sender_->failures();
    azure["queue"] = boost::json::object{
        {"name", config_.azure.queue}, {"messages", messages}, {"events", events},
        {"poisoned", poisoned},        {"failures", failures}, {"poison_queue", std::move(poison)}};
    counter("sluice_azure_queue_messages_total",
            "Messages received from the Azure queue and stored, since start.", messages);
    counter("sluice_azure_queue_events_total",
            "Events appended from Azure queue messages (duplicates included), since start.",
            events);
    counter("sluice_azure_queue_poisoned_total",
            "Azure queue messages dead-lettered (and so queued for the poison queue), since start.",
            poisoned);
    counter("sluice_azure_queue_failures_total",
            "Failed receives, deletes and appends of the Azure queue source.", failures);
  }
  if (azure_mirror_) {
    SLUICE_ASSIGN_OR_RETURN(auto fields, read_outbox(dead_letter_outbox_));
    fields["name"] = config_.azure.deadletter_queue;
    fields["sent"] = azure_mirror_->sent();
    fields["failures"] = azure_mirror_->failures();
    azure["deadletter_queue"] = std::move(fields);
    counter("sluice_azure_deadletters_mirrored_total",
            "Dead letters put on azure.deadletter_queue, since start.", azure_mirror_->sent());
  }
  if (cosmos_sink_) {
    SLUICE_ASSIGN_OR_RETURN(auto fields, read_outbox(cosmos_outbox_));
    fields["database"] = config_.azure.cosmos_database;
    fields["written"] = cosmos_sink_->written();
    fields["failures"] = cosmos_sink_->failures();
    fields["throttled"] = cosmos_sink_->throttled();
    azure["cosmos"] = std::move(fields);
    counter("sluice_azure_cosmos_throttled_total",
            "Cosmos DB answers of 429 (request rate too large) waited out, since start.",
            cosmos_sink_->throttled());
    counter("sluice_azure_cosmos_writes_total",
            "Documents written to Cosmos DB (events upserted, alone or in batches; stats created "
            "or replaced), since start.",
            cosmos_sink_->written());
  }
  if (!outboxes.empty()) {
    fmt::format_to(out,
                   "# HELP sluice_outbox_depth Entries waiting in an outbox to reach another "
                   "system.\n# TYPE sluice_outbox_depth gauge\n");
    for (const auto& reading : outboxes) {
      fmt::format_to(out, "sluice_outbox_depth{{outbox=\"{}\"}} {}\n", reading.name, reading.depth);
    }
    fmt::format_to(out,
                   "# HELP sluice_outbox_oldest_age_seconds Age of an outbox's oldest entry (0 "
                   "when empty).\n# TYPE sluice_outbox_oldest_age_seconds gauge\n");
    for (const auto& reading : outboxes) {
      fmt::format_to(out, "sluice_outbox_oldest_age_seconds{{outbox=\"{}\"}} {}\n", reading.name,
                     static_cast<double>(reading.age.value_or(0)) / 1e6);
    }
  }
  report.queue["azure"] = std::move(azure);
  return {};
}

void Node::stop() {
  if (server_) server_->stop();
}

void Node::drain() {
  if (drained_) return;
  drained_ = true;
  balancer_.stop();  // a taking under way finishes first
  // Before the intake queue stops: what the source received is stored, or left in Azure.
  if (azure_source_) azure_source_->stop();
  if (poison_sender_) poison_sender_->stop();
  if (azure_mirror_) azure_mirror_->stop();
  if (cosmos_sink_) cosmos_sink_->stop();
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
