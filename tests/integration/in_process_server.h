#pragma once

// InProcessServer: a node assembled exactly as `sluice serve` assembles it (app::Node), in the
// test's own process, so a test can register orchestrators and activities of its own (or replace
// the pipeline's) and still drive everything over real HTTP on a real port.

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "app/node.h"
#include "http/client.h"
#include "tests/support/test_storage.h"

namespace sluice::testing {

class InProcessServer {
 public:
  // Opens storage for `directory` (tests/support/test_storage.h), on a free loopback port, with
  // `settings` (key, value) applied over the defaults; the process environment is not read.
  // Register with registry() before start().
  explicit InProcessServer(const std::string& directory,
                           std::vector<std::pair<std::string, std::string>> settings = {}) {
    settings.insert(settings.begin(), {"storage", storage_setting(directory)});
    node_ = std::move(app::Node::open(config(std::move(settings))).value());
  }
  // The same on `backend`, which must outlive the server.
  explicit InProcessServer(storage::Backend& backend,
                           std::vector<std::pair<std::string, std::string>> settings = {}) {
    node_ = std::move(app::Node::open(config(std::move(settings)), backend).value());
  }

  // Recovers, listens, and serves on a thread of its own.
  void start() {
    SLUICE_CHECK(node_->start().ok());
    thread_ = std::thread([this] { node_->run(); });
  }

  ~InProcessServer() {
    node_->stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(node_->port()); }
  std::unique_ptr<http::Client> client() const {
    return std::move(http::Client::create(url()).value());
  }

  const Clock& clock() const { return node_->clock(); }
  const http::RouteTable& routes() const { return node_->routes(); }
  Registry& registry() { return node_->registry(); }
  queue::DeadLetterStore& dead_letters() { return node_->dead_letters(); }
  pipeline::StreamStore& streams() { return node_->streams(); }

 private:
  static app::Config config(std::vector<std::pair<std::string, std::string>> settings) {
    settings::Sources sources;
    sources.environment = [](const std::string&) { return std::optional<std::string>(); };
    sources.overrides = {{"listen", "127.0.0.1:0"}, {"http.threads", "2"}};
    for (auto& setting : settings) sources.overrides.push_back(std::move(setting));
    return app::load_config(sources).value();
  }

  std::unique_ptr<app::Node> node_;
  std::thread thread_;
};

}  // namespace sluice::testing
