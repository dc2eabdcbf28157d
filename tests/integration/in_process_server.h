#pragma once

// InProcessServer: storage, engine, pipeline and HTTP API wired as `sluice serve` wires them, in
// the test's own process, so a test can register orchestrators and activities of its own (or
// replace the pipeline's) and still drive everything over real HTTP on a real port.

#include <memory>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/ids.h"
#include "engine/engine.h"
#include "http/api.h"
#include "http/client.h"
#include "http/server.h"
#include "pipeline/intake_consumer.h"
#include "pipeline/stream_store.h"
#include "queue/dead_letter_store.h"
#include "queue/intake_queue.h"
#include "storage/rocks/rocks_backend.h"

namespace sluice::testing {

class InProcessServer {
 public:
  // Opens storage in `directory`; register with registry() before start().
  explicit InProcessServer(const std::string& directory)
      : backend_(std::move(storage::RocksBackend::open(directory).value())),
        intake_(std::move(queue::IntakeQueue::open(*backend_, clock_, "alerts").value())),
        dead_letters_(*backend_, "alerts-deadletter"),
        streams_(*backend_) {}

  // Starts the engine and the HTTP server, and with `consume` the intake consumer.
  void start(bool consume) {
    engine_ =
        std::make_unique<engine::Engine>(*backend_, clock_, registry_, engine::EngineOptions{});
    SLUICE_CHECK(engine_->start().ok());
    if (consume) {
      consumer_ = std::make_unique<pipeline::IntakeConsumer>(*intake_, *engine_, *backend_, 100);
      consumer_->start();
    }
    api_ = std::make_unique<http::Api>(*intake_, dead_letters_, ids_, clock_, http::ApiOptions{},
                                       engine_.get(), &registry_, &streams_);
    server_ = std::make_unique<http::Server>(
        http::ServerOptions{.port = 0, .threads = 2},
        [this](http::Request& request) { return api_->handle(request); });
    SLUICE_CHECK(server_->listen().ok());
    thread_ = std::thread([this] { server_->run(); });
  }

  ~InProcessServer() {
    if (server_) {
      server_->stop();
      thread_.join();
    }
    if (consumer_) consumer_->stop();
    intake_->stop();
    if (engine_) engine_->stop();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::unique_ptr<http::Client> client() const {
    return std::move(http::Client::create(url()).value());
  }

  const Clock& clock() const { return clock_; }
  Registry& registry() { return registry_; }
  queue::DeadLetterStore& dead_letters() { return dead_letters_; }
  pipeline::StreamStore& streams() { return streams_; }

 private:
  SystemClock clock_;
  IdGenerator ids_{clock_};
  Registry registry_;
  std::unique_ptr<storage::RocksBackend> backend_;
  std::unique_ptr<queue::IntakeQueue> intake_;
  queue::DeadLetterStore dead_letters_;
  pipeline::StreamStore streams_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<pipeline::IntakeConsumer> consumer_;
  std::unique_ptr<http::Api> api_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

}  // namespace sluice::testing
