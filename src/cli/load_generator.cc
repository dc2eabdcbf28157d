#include "cli/load_generator.h"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <optional>
#include <set>

namespace sluice::cli {
namespace {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using asio::ip::tcp;
using Steady = std::chrono::steady_clock;
using Request = beast_http::request<beast_http::string_body>;
using Stream = boost::beast::tcp_stream;

// A connection that fails this many times in a row, with nothing answered between, ends the run.
constexpr int kMaxConsecutiveErrors = 50;

struct Job {
  Request request;
  std::int64_t events = 0;
  Steady::time_point due;
};

class Generator {
 public:
  Generator(const LoadOptions& options, const std::function<std::string()>& next_event)
      : options_(options), next_event_(next_event), remaining_(options.events) {
    target_ = options.wait_seconds > 0 ? fmt::format("/api/events?wait={}", options.wait_seconds)
                                       : std::string("/api/events");
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
    if (options_.rate > 0) {
      asio::co_spawn(context_, schedule(), asio::detached);
    } else {
      for (unsigned i = 0; i < options_.connections; ++i) open_connection();
    }
    context_.run();
    return std::move(result_);
  }

 private:
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
    job.request = Request(beast_http::verb::post, target_, 11);
    job.request.set(beast_http::field::host, options_.host);
    job.request.set(beast_http::field::content_type,
                    options_.batch > 1 ? "application/x-ndjson" : "application/json");
    if (!options_.api_key.empty()) {
      job.request.set(beast_http::field::authorization, "Bearer " + options_.api_key);
    }
    job.request.keep_alive(true);
    job.request.body() = std::move(body);
    job.request.prepare_payload();
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
  asio::awaitable<void> schedule() {
    const auto interval = std::chrono::duration_cast<Steady::duration>(
        std::chrono::duration<double>(static_cast<double>(options_.batch) / options_.rate));
    asio::steady_timer timer(context_);
    std::int64_t made = 0;
    while (remaining_ > 0 && !failed()) {
      timer.expires_at(result_.started + made * interval);
      co_await timer.async_wait(asio::use_awaitable);
      const auto now = Steady::now();
      while (remaining_ > 0 && result_.started + made * interval <= now) {
        queue_.push_back(make_job(result_.started + made * interval));
        ++made;
      }
      dispatch();
    }
    wake_all();  // idle connections see there is nothing left and close
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

  // Connects `stream` to the server (any of its addresses); false on failure.
  asio::awaitable<bool> connect(Stream& stream) {
    boost::system::error_code error;
    stream.expires_after(std::chrono::seconds(10));
    co_await stream.async_connect(endpoints_, asio::redirect_error(asio::use_awaitable, error));
    if (!error) stream.socket().set_option(tcp::no_delay(true), error);
    co_return !error;
  }

  asio::awaitable<void> connection() {
    Stream stream(context_);
    streams_.insert(&stream);
    const bool connected = co_await connect(stream);
    --connecting_;
    if (!connected) fail(fmt::format("cannot connect to {}:{}", options_.host, options_.port));
    boost::beast::flat_buffer buffer;
    asio::steady_timer idle(context_);
    boost::system::error_code error;
    while (!failed()) {
      std::optional<Job> job = take_job();
      if (job) {
        co_await exchange(stream, buffer, *job);
        continue;
      }
      if (done()) break;
      idle.expires_at(Steady::time_point::max());
      idle_.push_back(&idle);
      co_await idle.async_wait(asio::redirect_error(asio::use_awaitable, error));
      --waking_;
    }
    if (failed()) wake_all();
    streams_.erase(&stream);
    --open_;
  }

  // Sends `job` until the server takes it (2xx) or refuses it for good.
  // A lost connection, or a server that stops answering (the stream's deadline), closes the
  // stream; the request goes again on a new connection.
  asio::awaitable<void> exchange(Stream& stream, boost::beast::flat_buffer& buffer, Job& job) {
    int errors = 0;
    asio::steady_timer pause(context_);
    while (!failed()) {
      boost::system::error_code error;
      if (!stream.socket().is_open() && !co_await connect(stream)) {
        error = boost::asio::error::not_connected;
      }
      beast_http::response<beast_http::string_body> response;
      if (!error) {
        stream.expires_after(exchange_timeout_);
        co_await beast_http::async_write(stream, job.request,
                                         asio::redirect_error(asio::use_awaitable, error));
      }
      if (!error) {
        co_await beast_http::async_read(stream, buffer, response,
                                        asio::redirect_error(asio::use_awaitable, error));
      }
      ++result_.requests;
      if (error || response.need_eof()) {
        stream.close();
        buffer.consume(buffer.size());  // nothing of the old connection may be read as an answer
      }
      const unsigned status = error ? 0 : response.result_int();
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
        fail(fmt::format("the server refused a request: HTTP {} {}", status,
                         response.body().substr(0, 500)));
        co_return;
      }
      if (++errors >= kMaxConsecutiveErrors) {
        fail(status == 0 ? fmt::format("lost the connection {} times in a row", errors)
                         : fmt::format("the server answered {} {} times in a row", status, errors));
        co_return;
      }
      ++result_.resent;
      pause.expires_after(std::chrono::milliseconds(20 * errors));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, error));
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
    for (Stream* stream : streams_) stream->close();
    wake_all();
  }

  const LoadOptions& options_;
  const std::function<std::string()>& next_event_;
  std::string target_;
  asio::io_context context_;
  tcp::resolver::results_type endpoints_;
  Steady::duration exchange_timeout_;
  std::set<Stream*> streams_;              // every open connection's stream, for fail()
  std::int64_t remaining_;                 // events not yet put into a request
  std::deque<Job> queue_;                  // open loop: due and not yet taken by a connection
  std::vector<asio::steady_timer*> idle_;  // timers idle connections sleep on
  std::size_t waking_ = 0;                 // connections woken that have not yet looked for work
  std::size_t connecting_ = 0;             // connections opened and not yet connected
  unsigned open_ = 0;
  LoadResult result_;
};

}  // namespace

LoadResult run_load(const LoadOptions& options, const std::function<std::string()>& next_event) {
  return Generator(options, next_event).run();
}

}  // namespace sluice::cli
