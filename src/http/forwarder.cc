#include "http/forwarder.h"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

namespace {

constexpr std::string_view kForwardedBy = "Sluice-Forwarded-By";
constexpr auto kConnectTimeout = std::chrono::seconds(2);
constexpr std::uint64_t kMaxAnswerBytes = 64 << 20;  // an instance's output may be large

}  // namespace

asio::awaitable<std::optional<Response>> Forwarder::elsewhere(
    const Request& request, std::string_view instance_id,
    std::chrono::seconds answer_within) const {
  if (!peers_.owner_of || request.find(kForwardedBy) != request.end()) co_return std::nullopt;
  std::optional<std::string> address = peers_.owner_of(instance_id);
  if (!address) co_return std::nullopt;
  co_return co_await send(request, *address, answer_within);
}

asio::awaitable<std::vector<std::pair<std::string, Response>>> Forwarder::everywhere_else(
    const Request& request) const {
  std::vector<std::pair<std::string, Response>> answers;
  if (!peers_.others || request.find(kForwardedBy) != request.end()) co_return answers;
  std::vector<std::string> others = peers_.others();
  for (std::string& address : others) {
    Response answer = co_await send(request, address, kAnswerTimeout);
    answers.emplace_back(std::move(address), std::move(answer));
  }
  co_return answers;
}

asio::awaitable<Response> Forwarder::send(const Request& request, const std::string& address,
                                          std::chrono::seconds answer_within) const {
  const auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const std::string port = colon == std::string::npos ? "80" : address.substr(colon + 1);

  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  tcp::resolver resolver(executor);
  boost::system::error_code error;
  auto redirect = asio::redirect_error(asio::use_awaitable, error);
  const auto endpoints = co_await resolver.async_resolve(host, port, redirect);
  if (!error) {
    stream.expires_after(kConnectTimeout);
    co_await stream.async_connect(endpoints, redirect);
  }
  if (error) {
    // Nothing was sent: a retry is safe, and finds the holder once the nodes know who it is.
    co_return status_response(
        unavailable(fmt::format("the instance runs on the node at {}, which cannot be reached: {}",
                                address, error.message())));
  }
  Request forwarded = request;
  // The body goes at once (no interim 100 Continue to read), on a connection of its own.
  for (auto field :
       {beast_http::field::expect, beast_http::field::connection, beast_http::field::keep_alive,
        beast_http::field::te, beast_http::field::upgrade, beast_http::field::proxy_connection}) {
    forwarded.erase(field);
  }
  forwarded.set(kForwardedBy, self_);
  forwarded.keep_alive(false);
  forwarded.prepare_payload();
  beast::flat_buffer buffer;
  beast_http::response_parser<beast_http::string_body> parser;
  parser.body_limit(kMaxAnswerBytes);
  stream.expires_after(answer_within);
  co_await beast_http::async_write(stream, forwarded, redirect);
  if (!error) co_await beast_http::async_read(stream, buffer, parser, redirect);
  if (error) {
    // As when a client's own connection breaks: the call may or may not have taken effect.
    co_return error_response(
        beast_http::status::bad_gateway, "no_answer",
        fmt::format("the instance runs on the node at {}, which did not answer ({}); the call "
                    "may have taken effect",
                    address, error.message()));
  }
  Response answer = parser.release();
  for (auto field : {beast_http::field::connection, beast_http::field::keep_alive,
                     beast_http::field::transfer_encoding, beast_http::field::server}) {
    answer.erase(field);
  }
  answer.prepare_payload();
  co_return answer;
}

}  // namespace sluice::http
