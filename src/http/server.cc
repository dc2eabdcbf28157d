#include "http/server.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <vector>

#include "core/logging.h"
#include "core/worker.h"

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// What stop() may reach of a connection from another thread. Shared with the connection's
// coroutine; every member is touched only on the connection's thread.
class Server::Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(beast::tcp_stream& stream) : stream_(&stream) {}

  // Closes the connection now if it is waiting for a request; otherwise it closes itself after
  // answering the request in hand.
  void stop_when_idle() {
    asio::post(stream_->get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      if (self->idle_ && self->stream_ != nullptr) self->stream_->socket().close();
    });
  }
  void set_idle(bool idle) { idle_ = idle; }
  bool stopping() const { return stopping_; }
  // The coroutine is ending and its stream is about to go.
  void finish() { stream_ = nullptr; }

 private:
  beast::tcp_stream* stream_;
  bool idle_ = true;
  bool stopping_ = false;
};

namespace {

std::vector<std::unique_ptr<asio::io_context>> make_contexts(unsigned count) {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (unsigned i = 0; i < count; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  return contexts;
}

}  // namespace

Server::Server(ServerOptions options, Handler handler)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      contexts_(make_contexts(std::max(options_.threads, 1u))),
      acceptor_(*contexts_[0]),
      signals_(*contexts_[0], SIGINT, SIGTERM) {
  for (auto& context : contexts_) keep_running_.push_back(asio::make_work_guard(*context));
}

Server::~Server() = default;

Status Server::listen() {
  boost::system::error_code error;
  const auto address = asio::ip::make_address(options_.host, error);
  const std::string where = fmt::format("{}:{}", options_.host, options_.port);
  if (error)
    return invalid_argument(fmt::format("listen: \"{}\" is not an IP address", options_.host));
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return invalid_argument(fmt::format("listen: cannot listen on {}: {}", where, error.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  return {};
}

void Server::run() {
  signals_.async_wait([this](const boost::system::error_code& error, int signal) {
    if (error) return;
    spdlog::info("received signal {}, stopping", signal);
    stop();
  });
  asio::co_spawn(*contexts_[0], accept_loop(), asio::detached);

  // Each further thread runs its own context; they return, as this one does, once stop() has
  // ended every connection.
  std::atomic<std::size_t> next_context{1};
  Worker others;
  others.start(
      "http", [&](const std::stop_token&) { contexts_[next_context++]->run(); },
      static_cast<unsigned>(contexts_.size() - 1));
  contexts_[0]->run();
  others.stop();
}

void Server::stop() {
  asio::post(*contexts_[0], [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    signals_.cancel(ignored);
    // Each context returns once its connections have ended.
    for (auto& guard : keep_running_) guard.reset();
  });
  if (stop_listener_) stop_listener_();
  std::lock_guard lock(connections_mutex_);
  stopping_ = true;
  for (const auto& connection : connections_) connection->stop_when_idle();
}

namespace {

// Built outside the coroutine frame (GCC 12, see management_api.cc).
Response too_many_connections(std::size_t limit) {
  Response response = error_response(
      beast_http::status::service_unavailable, "too_many_connections",
      fmt::format("the server holds its limit of {} connections (http.max_connections)", limit));
  response.set(beast_http::field::retry_after, "1");
  response.keep_alive(false);
  return response;
}

}  // namespace

asio::awaitable<void> Server::accept_loop() {
  while (true) {
    asio::io_context& context = *contexts_[next_context_];
    next_context_ = (next_context_ + 1) % contexts_.size();
    auto [error, socket] = co_await acceptor_.async_accept(context, kNoThrow);
    if (error == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (error) {
      // Out of file descriptors and the like: keep the listener alive and try again.
      spdlog::warn("accept failed: {}", error.message());
      continue;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Server::serve(tcp::socket socket) {
  socket.set_option(tcp::no_delay(true));
  beast::tcp_stream stream(std::move(socket));
  auto connection_state = std::make_shared<Connection>(stream);
  Connection& connection = *connection_state;
  bool over_limit = false;
  {
    std::lock_guard lock(connections_mutex_);
    if (stopping_) co_return;
    over_limit = connections_.size() >= options_.max_connections;
    if (!over_limit) connections_.insert(connection_state);
  }
  if (over_limit) {
    // Said in HTTP rather than by a reset, so the client knows to come back.
    Response refusal = too_many_connections(options_.max_connections);
    stream.expires_after(options_.read_timeout);
    co_await beast_http::async_write(stream, refusal, kNoThrow);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Read what the client sent until it closes: closing with unread data would reset the
    // connection and could destroy the answer before the client reads it.
    stream.expires_after(std::chrono::seconds(1));
    char discard[1024];
    while (true) {
      auto [read_error, read] = co_await stream.async_read_some(asio::buffer(discard), kNoThrow);
      if (read_error) break;
    }
    co_return;
  }

  beast::flat_buffer buffer;
  while (!connection.stopping()) {
    beast_http::request_parser<beast_http::string_body> parser;
    parser.body_limit(options_.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    stream.expires_after(options_.read_timeout);
    connection.set_idle(true);
    auto [read_error, header_bytes] =
        co_await beast_http::async_read_header(stream, buffer, parser, kNoThrow);
    connection.set_idle(false);
    if (!read_error) {
      // Clients such as curl ask before sending a large body; without an answer they stall.
      if (beast::iequals(parser.get()[beast_http::field::expect], "100-continue")) {
        beast_http::response<beast_http::empty_body> go_on{beast_http::status::continue_, 11};
        std::tie(read_error, std::ignore) =
            co_await beast_http::async_write(stream, go_on, kNoThrow);
      }
      if (!read_error && !parser.is_done()) {
        std::tie(read_error, std::ignore) =
            co_await beast_http::async_read(stream, buffer, parser, kNoThrow);
      }
    }

    Response response;
    bool keep_alive = false;
    if (!read_error) {
      Request request = parser.release();
      keep_alive = request.keep_alive();
      stream.expires_never();
      response = co_await handler_(request);
    } else if (read_error == beast_http::error::body_limit) {
      response =
          error_response(beast_http::status::payload_too_large, "body_too_large",
                         fmt::format("the body may be at most {} bytes", options_.max_body_bytes));
    } else if (read_error == beast_http::error::header_limit) {
      response = error_response(
          beast_http::status::request_header_fields_too_large, "headers_too_large",
          fmt::format("the headers may be at most {} bytes", options_.max_header_bytes));
    } else if (read_error.category() ==
                   beast_http::make_error_code(beast_http::error::bad_target).category() &&
               read_error != beast_http::error::end_of_stream &&
               read_error != beast_http::error::partial_message) {
      response = error_response(
          beast_http::status::bad_request, "malformed_request",
          fmt::format("the request is not valid HTTP/1.1: {}", read_error.message()));
    } else {
      break;  // closed by the client, timed out, or cancelled by stop()
    }

    keep_alive = keep_alive && !connection.stopping();
    response.keep_alive(keep_alive);
    response.set(beast_http::field::server, "sluice");
    const std::string wire = wire_format(response);
    stream.expires_after(options_.read_timeout);
    auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(wire), kNoThrow);
    if (write_error || !keep_alive) break;
  }

  {
    std::lock_guard lock(connections_mutex_);
    connections_.erase(connection_state);
  }
  connection.finish();
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

}  // namespace sluice::http
