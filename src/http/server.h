#pragma once

// Server: HTTP/1.1 on Boost.Beast, one C++20 coroutine per connection. Connections are dealt in
// turn to the threads, each with its own io_context.
//
// Keep-alive, limits on header and body size, a deadline for receiving each request (a client
// that trickles bytes is cut off), and a graceful stop: on stop() the listener closes, idle
// connections are closed, requests being handled finish and get their answers, then run()
// returns.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "http/json_response.h"
#include "sluice/status.h"

namespace sluice::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7070;  // 0: any free port; see Server::port()
  unsigned threads = 1;
  std::size_t max_body_bytes = 8u << 20;
  std::size_t max_header_bytes = 16u << 10;
  std::chrono::seconds read_timeout{30};
  std::size_t max_connections = 10'000;  // beyond: 503 + Retry-After, then close
};

// Answers one request. Runs on a connection's executor; must not block it.
using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

class Server {
 public:
  Server(ServerOptions options, Handler handler);
  ~Server();

  // Binds and listens. Fails (naming the address) if it is in use or not an address here.
  Status listen();
  std::uint16_t port() const { return port_; }

  // Serves on options.threads threads (the caller's among them) until stop() or SIGINT/SIGTERM,
  // then waits for requests in progress to be answered.
  void run();

  // Thread-safe; may be called more than once.
  void stop();
  // Called by stop(), before it waits for requests in progress: a handler that waits on
  // something (POST /api/events?wait=) should stop waiting. Set it before run().
  void set_stop_listener(std::function<void()> listener) { stop_listener_ = std::move(listener); }

 private:
  class Connection;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  ServerOptions options_;
  Handler handler_;
  std::function<void()> stop_listener_;
  // One per thread, each run by its thread alone: a connection stays on one thread, so handing
  // it work from another thread wakes that thread only, and its handlers need no strand.
  // contexts_[0] also runs the listener and the signal handler.
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<WorkGuard> keep_running_;  // idle contexts wait for connections until stop()
  std::size_t next_context_ = 0;         // touched only by the listener
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::signal_set signals_;
  std::uint16_t port_ = 0;

  std::mutex connections_mutex_;
  std::set<std::shared_ptr<Connection>> connections_;  // guarded by connections_mutex_
  bool stopping_ = false;                              // guarded by connections_mutex_
};

}  // namespace sluice::http
