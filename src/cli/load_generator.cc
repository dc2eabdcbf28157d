#include "cli/load_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/read.hpp>
#include <deque>
#include <optional>
#include <set>

namespace sluice::cli {
namespace {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using asio::ip::tcp;
using Steady = std::chrono::steady_clock;
// Everything runs on one io_context: its own executor type, rather than the type-erased
// any_io_executor, spares a conversion on every operation.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Steady, asio::wait_traits<Steady>, Executor>;
template <class T>
using Awaitable = asio::awaitable<T, Executor>;
constexpr asio::use_awaitable_t<Executor> kAwait{};

// A connection that fails this many times in a row, with nothing answered between, ends the run.
constexpr int kMaxConsecutiveErrors = 50;
// How often stalled exchanges are looked for.
constexpr auto kWatchdogInterval = std::chrono::milliseconds(500);

struct Job {
  std::string request;  // the whole request as it goes on the wire
  std::int64_t events = 0;
  Steady::time_point due;
};

// One response, read by Beast's parser: the status and the start of the body (for an error
// message); the header fields, which the generator does not need, are not kept.
class Answer : public beast_http::basic_parser<false> {
 public:
  unsigned status() const { return status_; }
  const std::string& body() const { return body_; }

 private:
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;
  void on_request_impl(beast_http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override {
    status_ = static_cast<unsigned>(code);
  }
  void on_field_impl(beast_http::field, string_view, string_view, error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override { return keep(body); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    return keep(body);
  }
  void on_finish_impl(error_code&) override {}
  std::size_t keep(string_view body) {
    constexpr std::size_t kKept = 500;
    body_.append(body.data(), std::min(body.size(), kKept - std::min(kKept, body_.size())));
    return body.size();
  }

  unsigned status_ = 0;
  std::string body_;
};

class Generator {
 public:
  Generator(const LoadOptions& options, const std::function<std::string()>& next_event)
      : options_(options),
        next_event_(next_event),
        remaining_(options.events),
        watchdog_(context_.get_executor()) {
    // Every request's header but its length; the target waits for the events when asked to.
    const std::string target = options.wait_seconds > 0
                                   ? fmt::format("{}?wait={}", options.target, options.wait_seconds)
                                   : options.target;
    head_ =
        fmt::format("POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\n", target, options.host,
                    options.batch > 1 ? "application/x-ndjson" : "application/json");
    if (!options.api_key.empty()) {
      head_ += fmt::format("Authorization: Bearer {}\r\n", options.api_key);
    }
    result_.latencies.reserve(
        static_cast<std::size_t>(std::min<std::int64_t>(options_.events, 10'000'000)));
    // How long one exchange may take: the server's own wait, and time to answer after it.
    exchange_timeout_ = std::chrono::seconds(options_.wait_seconds + 30);
  }

  LoadResult run() {
    boost::system::error_code error;
    endpoints_ = tcp::resolver(context_).resolve(options_.host, options_.port, error);
    if (error || endpoints_.empty()) {
      result_.failure = fmt::format("cannot resolve {}:{}", options_.host, options_.port);
      return std::move(result_);
    }
    result_.started = Steady::now();
    result_.last_answer = result_.started;
    if (open_loop()) {
      asio::co_spawn(context_, schedule(), asio::detached);
    } else {
      for (unsigned i = 0; i < options_.connections; ++i) open_connection();
    }
    asio::co_spawn(context_, watch(), asio::detached);
    context_.run();
    return std::move(result_);
  }

 private:
  // A connection, and when the exchange under way on it is to be given up.
  struct Connection {
    explicit Connection(asio::io_context& context) : socket(context.get_executor()) {}
    Socket socket;
    Steady::time_point deadline = Steady::time_point::max();
  };

  bool open_loop() const { return options_.rate > 0; }
  bool done() const { return failed() || (remaining_ == 0 && queue_.empty()); }
  bool failed() const { return !result_.failure.empty(); }

  Job make_job(Steady::time_point due) {
    Job job;
    job.events = std::min<std::int64_t>(remaining_, static_cast<std::int64_t>(options_.batch));
    remaining_ -= job.events;
    std::string body;
    for (std::int64_t i = 0; i < job.events; ++i) {
      body += next_event_();
      body += '\n';
    }
    job.request.reserve(head_.size() + 40 + body.size());
    job.request += head_;
    if (options_.signed_headers) job.request += options_.signed_headers(body);
    job.request += fmt::format("Content-Length: {}\r\n\r\n", body.size());
    job.request += body;
    job.due = due;
    return job;
  }

  // The next request for a free connection, if there is one now.
  std::optional<Job> take_job() {
    if (failed()) return std::nullopt;
    if (!open_loop()) {
      if (remaining_ == 0) return std::nullopt;
      return make_job(Steady::now());
    }
    if (queue_.empty()) return std::nullopt;
    std::optional<Job> job(std::move(queue_.front()));
    queue_.pop_front();
    return job;
  }

  // Open loop: makes each request when it is due and hands it to a free connection.
  Awaitable<void> schedule() {
    const auto interval = std::chrono::duration_cast<Steady::duration>(
        std::chrono::duration<double>(static_cast<double>(options_.batch) / options_.rate));
    Timer timer(context_.get_executor());
    std::int64_t made = 0;
    while (remaining_ > 0 && !failed()) {
      timer.expires_at(result_.started + made * interval);
      co_await timer.async_wait(kAwait);
      const auto now = Steady::now();
      while (remaining_ > 0 && result_.started + made * interval <= now) {
        queue_.push_back(make_job(result_.started + made * interval));
        ++made;
      }
      dispatch();
    }
    wake_all();  // idle connections see there is nothing left and close
  }

  // Closes any connection whose exchange has run past its deadline; the exchange then sends its
  // request again on a new connection. One timer serves all connections: arming and cancelling
  // one around every read and write showed in the generator's profile.
  Awaitable<void> watch() {
    boost::system::error_code ignored;
    while (!(open_ == 0 && done())) {
      watchdog_.expires_after(kWatchdogInterval);
      co_await watchdog_.async_wait(asio::redirect_error(kAwait, ignored));
      const auto now = Steady::now();
      for (Connection* connection : connections_) {
        if (now > connection->deadline) connection->socket.close(ignored);
      }
    }
  }

  // Wakes idle connections for queued requests and opens new ones if that is not enough.
  void dispatch() {
    while (waking_ + connecting_ < queue_.size() && !idle_.empty()) {
      idle_.back()->cancel();
      idle_.pop_back();
      ++waking_;
    }
    while (waking_ + connecting_ < queue_.size() && open_ < options_.connections) {
      open_connection();
    }
  }

  void wake_all() {
    for (auto* timer : idle_) {
      timer->cancel();
      ++waking_;
    }
    idle_.clear();
  }

  void open_connection() {
    ++open_;
    ++connecting_;
    ++result_.connections_opened;
    asio::co_spawn(context_, connection(), asio::detached);
  }

  // Connects to the server (any of its addresses) within 10 s; false on failure.
  Awaitable<bool> connect(Connection& connection) {
    boost::system::error_code error;
    connection.deadline = Steady::now() + std::chrono::seconds(10);
    co_await asio::async_connect(connection.socket, endpoints_,
                                 asio::redirect_error(kAwait, error));
    connection.deadline = Steady::time_point::max();
    if (!error) connection.socket.set_option(tcp::no_delay(true), error);
    co_return !error;
  }

  Awaitable<void> connection() {
    Connection connection(context_);
    connections_.insert(&connection);
    const bool connected = co_await connect(connection);
    --connecting_;
    if (!connected) fail(fmt::format("cannot connect to {}:{}", options_.host, options_.port));
    boost::beast::flat_buffer buffer;
    Timer idle(context_.get_executor());
    boost::system::error_code error;
    while (!failed()) {
      std::optional<Job> job = take_job();
      if (job) {
        co_await exchange(connection, buffer, *job);
        continue;
      }
      if (done()) break;
      idle.expires_at(Steady::time_point::max());
      idle_.push_back(&idle);
      co_await idle.async_wait(asio::redirect_error(kAwait, error));
      --waking_;
    }
    if (failed()) wake_all();
    connections_.erase(&connection);
    --open_;
    if (open_ == 0 && done()) watchdog_.cancel();
  }

  // Sends `job` until the server takes it (2xx) or refuses it for good.
  // A lost connection, or a server that stops answering (the watchdog's deadline), closes the
  // socket; the request goes again on a new connection.
  Awaitable<void> exchange(Connection& connection, boost::beast::flat_buffer& buffer, Job& job) {
    int errors = 0;
    Timer pause(context_.get_executor());
    while (!failed()) {
      boost::system::error_code error;
      if (!connection.socket.is_open() && !co_await connect(connection)) {
        error = boost::asio::error::not_connected;
      }
      Answer answer;
      if (!error) {
        connection.deadline = Steady::now() + exchange_timeout_;
        co_await asio::async_write(connection.socket, asio::buffer(job.request),
                                   asio::redirect_error(kAwait, error));
      }
      if (!error) {
        co_await beast_http::async_read(connection.socket, buffer, answer,
                                        asio::redirect_error(kAwait, error));
      }
      connection.deadline = Steady::time_point::max();
      ++result_.requests;
      const unsigned status = !error && answer.is_done() ? answer.status() : 0;
      if (error || answer.need_eof()) {
        boost::system::error_code ignored;
        connection.socket.close(ignored);
        buffer.consume(buffer.size());  // nothing of the old connection may be read as an answer
      }
      // Waiting, only 200 says the events finished; a 202 means the wait ran out.
      if (options_.wait_seconds > 0 && status == 202) {
        fail(fmt::format("events did not finish within the {} s the server waited",
                         options_.wait_seconds));
        co_return;
      }
      if (status / 100 == 2) {
        record(job);
        co_return;
      }
      if (status != 0 && status != 503 && status != 429) {
        fail(fmt::format("the server refused a request: HTTP {} {}", status, answer.body()));
        co_return;
      }
      if (++errors >= kMaxConsecutiveErrors) {
        fail(status == 0 ? fmt::format("lost the connection {} times in a row", errors)
                         : fmt::format("the server answered {} {} times in a row", status, errors));
        co_return;
      }
      ++result_.resent;
      pause.expires_after(std::chrono::milliseconds(20 * errors));
      co_await pause.async_wait(asio::redirect_error(kAwait, error));
    }
  }

  void record(const Job& job) {
    const auto now = Steady::now();
    const auto latency =
        std::chrono::duration_cast<std::chrono::microseconds>(now - job.due).count();
    result_.latencies.insert(result_.latencies.end(), static_cast<std::size_t>(job.events),
                             latency);
    result_.events_sent += job.events;
    result_.last_answer = now;
  }

  // Ends the run: every connection is closed, so requests under way end at once.
  void fail(std::string why) {
    if (!result_.failure.empty()) return;
    result_.failure = std::move(why);
    boost::system::error_code ignored;
    for (Connection* connection : connections_) connection->socket.close(ignored);
    wake_all();
  }

  const LoadOptions& options_;
  const std::function<std::string()>& next_event_;
  std::string head_;  // every request's header lines but Content-Length
  asio::io_context context_;
  tcp::resolver::results_type endpoints_;
  Steady::duration exchange_timeout_;
  std::set<Connection*> connections_;  // every open connection, for fail() and the watchdog
  std::int64_t remaining_;             // events not yet put into a request
  std::deque<Job> queue_;              // open loop: due and not yet taken by a connection
  std::vector<Timer*> idle_;           // timers idle connections sleep on
  std::size_t waking_ = 0;             // connections woken that have not yet looked for work
  std::size_t connecting_ = 0;         // connections opened and not yet connected
  unsigned open_ = 0;
  Timer watchdog_;
  LoadResult result_;
};

}  // namespace

LoadResult run_load(const LoadOptions& options, const std::function<std::string()>& next_event) {
  return Generator(options, next_event).run();
}

}  // namespace sluice::cli
