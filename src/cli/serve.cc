// `sluice serve`: load and check the configuration, open storage, serve HTTP until told to stop.

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/ids.h"
#include "core/logging.h"
#include "engine/engine.h"
#include "http/api.h"
#include "http/server.h"
#include "pipeline/intake_consumer.h"
#include "pipeline/process_event.h"
#include "pipeline/stream_store.h"
#include "queue/dead_letter_store.h"
#include "queue/intake_queue.h"
#include "storage/rocks/rocks_backend.h"

namespace sluice::cli {
namespace {

// True for addresses only this machine can reach (127.0.0.0/8, ::1).
bool is_loopback(const std::string& host) {
  boost::system::error_code error;
  const auto address = boost::asio::ip::make_address(host, error);
  return !error && address.is_loopback();
}

int configuration_error(std::string_view message) {
  fmt::print(stderr, "sluice: {}\n", message);
  return kExitUsage;
}

}  // namespace

int serve(const ServeFlags& flags) {
  ConfigSources sources;
  sources.file = flags.config_file;
  if (flags.data) sources.overrides.emplace_back("storage", "rocksdb:" + *flags.data);
  if (flags.listen) sources.overrides.emplace_back("listen", *flags.listen);
  for (const auto& setting : flags.settings) {
    const size_t equals = setting.find('=');
    if (equals == std::string::npos || equals == 0) {
      return configuration_error(fmt::format("--set {}: expected KEY=VALUE", setting));
    }
    sources.overrides.emplace_back(setting.substr(0, equals), setting.substr(equals + 1));
  }
  auto loaded = load_config(sources);
  if (!loaded.ok()) return configuration_error(loaded.status().message());
  const Config& config = *loaded;
  configure_logging(config.log_level);
  if (config.api_keys.empty() && !is_loopback(config.listen_host)) {
    return configuration_error(
        fmt::format("listen: {} is reachable from other machines and no API key is configured; set "
                    "keys.NAME.secret and keys.NAME.scopes, or listen on 127.0.0.1",
                    config.listen_host));
  }

  auto backend =
      storage::RocksBackend::open(config.storage.location, config.storage_min_free_mb << 20);
  if (!backend.ok()) {
    return configuration_error(fmt::format("storage: {}", backend.status().message()));
  }
  SystemClock clock;
  IdGenerator ids(clock);
  auto intake =
      queue::IntakeQueue::open(**backend, clock, config.queue_name, config.queue_max_depth);
  if (!intake.ok())
    return configuration_error(fmt::format("storage: {}", intake.status().message()));
  queue::DeadLetterStore dead_letters(**backend, config.deadletter_name);

  Registry registry;
  pipeline::StreamStore streams(**backend);
  pipeline::AlertFeed alerts;
  pipeline::PipelineOptions pipeline_options;
  pipeline_options.retry.max_attempts = config.retry_max_attempts;
  pipeline_options.retry.first_interval = Micros{config.retry_first_interval_ms} * 1000;
  pipeline_options.retry.backoff_coefficient = config.retry_backoff_coefficient;
  pipeline_options.retry.max_interval = Micros{config.retry_max_interval_ms} * 1000;
  pipeline_options.webhooks = config.webhooks;
  if (Status webhooks = pipeline::check_webhooks(config.webhooks); !webhooks.ok()) {
    return configuration_error(webhooks.message());
  }
  webhooks::WebhookSender webhook_sender;
  pipeline::register_pipeline(registry, streams, dead_letters, alerts, webhook_sender, clock,
                              pipeline_options);
  http::CompletionWaiters completions;  // for POST /api/events?wait=
  http::Metrics metrics;
  engine::Engine engine(
      **backend, clock, registry,
      {config.engine_partitions, config.activity_workers, config.max_active_instances,
       static_cast<Micros>(config.retention_hours) * 3'600'000'000,
       [&completions, &metrics, &clock](const engine::InstanceRecord& record) {
         completions.notify(record);
         const auto envelope = pipeline::open_envelope(record.input);
         metrics.instance_finished(
             record.status,
             envelope ? std::optional(clock.now() - envelope->received_at) : std::nullopt);
       }});
  if (Status recovered = engine.start(); !recovered.ok()) {
    return configuration_error(fmt::format("storage: {}", recovered.message()));
  }
  pipeline::IntakeConsumer consumer(**intake, engine, **backend, config.pipeline_max_in_flight);

  http::ServerOptions server_options{
      config.listen_host,      config.listen_port,
      config.http_threads,     config.max_body_bytes,
      config.max_header_bytes, std::chrono::seconds(config.read_timeout_seconds),
      config.max_connections};
  http::Api api(**intake, dead_letters, ids, clock,
                {config.max_batch_events,
                 fmt::format("{}:{}", config.listen_host, config.listen_port), config.api_keys},
                &engine, &registry, &streams, &completions, &metrics);
  http::Server server(server_options,
                      [&api](http::Request& request) { return api.handle(request); });
  server.set_stop_listener([&completions] { completions.cancel_all(); });
  if (Status listening = server.listen(); !listening.ok()) {
    return configuration_error(listening.message());
  }
  // Tests and scripts read the port from this line when they ask for port 0.
  spdlog::info("listening on {}:{} (storage {}, queue {})", config.listen_host, server.port(),
               config.storage.to_string(), config.queue_name);

  if (config.pipeline_paused) {
    spdlog::warn("pipeline.paused is set: events are queued, not processed");
  } else {
    consumer.start();
  }
  server.run();
  spdlog::info("stopped accepting; committing what was accepted");
  consumer.stop();
  (*intake)->stop();
  engine.stop();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace sluice::cli
