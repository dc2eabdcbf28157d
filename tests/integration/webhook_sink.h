#pragma once

// WebhookSink: a real HTTP server on a free port that records every webhook delivery it gets and
// answers as the test says — 500 for the next N requests, 500 always ("down"), or late.

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "sluice/status.h"

namespace sluice::testing {

class WebhookSink {
 public:
  struct Delivery {
    std::string path;
    std::string body;
    std::map<std::string, std::string> headers;
    unsigned answered = 0;  // the HTTP status the sink gave
  };

  WebhookSink()
      : server_(http::ServerOptions{.port = 0, .threads = 1},
                [this](http::Request& request) { return handle(request); }) {
    SLUICE_CHECK(server_.listen().ok());
    thread_ = std::thread([this] { server_.run(); });
  }
  ~WebhookSink() {
    server_.stop();
    thread_.join();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + path;
  }
  void fail_next(int count) {
    std::lock_guard lock(mutex_);
    failures_left_ = count;
  }
  void set_down(bool down) {
    std::lock_guard lock(mutex_);
    down_ = down;
  }
  // Answers 500 to this fraction of requests, at random.
  void fail_fraction(double fraction) {
    std::lock_guard lock(mutex_);
    fail_fraction_ = fraction;
  }
  void set_delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(mutex_);
    delay_ = delay;
  }
  std::vector<Delivery> deliveries(const std::string& path) const {
    std::lock_guard lock(mutex_);
    std::vector<Delivery> matching;
    for (const auto& delivery : deliveries_) {
      if (delivery.path == path) matching.push_back(delivery);
    }
    return matching;
  }

 private:
  struct Decision {
    unsigned status;
    std::chrono::milliseconds delay;
  };

  // Records the request and decides the answer; kept out of the coroutine below.
  Decision record(const http::Request& request) {
    std::lock_guard lock(mutex_);
    Delivery delivery{std::string(request.target()), request.body(), {}, 200};
    for (const auto& field : request) {
      delivery.headers[std::string(field.name_string())] = std::string(field.value());
    }
    if (down_ || failures_left_ > 0 ||
        std::uniform_real_distribution<double>(0, 1)(random_) < fail_fraction_) {
      delivery.answered = 500;
      if (failures_left_ > 0) --failures_left_;
    }
    deliveries_.push_back(delivery);
    return {delivery.answered, delay_};
  }

  static http::Response answer(const http::Request& request, unsigned status) {
    http::Response response{static_cast<boost::beast::http::status>(status), request.version()};
    response.set(boost::beast::http::field::content_type, "application/json");
    response.body() = "{}";
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    return response;
  }

  boost::asio::awaitable<http::Response> handle(http::Request& request) {
    const Decision decision = record(request);
    if (decision.delay.count() > 0) {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, decision.delay);
      co_await timer.async_wait(boost::asio::use_awaitable);
    }
    co_return answer(request, decision.status);
  }

  mutable std::mutex mutex_;
  std::vector<Delivery> deliveries_;             // guarded by mutex_
  int failures_left_ = 0;                        // guarded by mutex_
  bool down_ = false;                            // guarded by mutex_
  std::chrono::milliseconds delay_{0};           // guarded by mutex_
  double fail_fraction_ = 0;                     // guarded by mutex_
  std::mt19937 random_{std::random_device{}()};  // guarded by mutex_
  http::Server server_;
  std::thread thread_;
};

}  // namespace sluice::testing
