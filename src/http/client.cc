#include "http/client.h"

#include <fmt/format.h>

#include <boost/beast/core.hpp>
#include <boost/url/parse.hpp>

namespace sluice::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

Result<std::unique_ptr<Client>> Client::create(std::string_view base_url,
                                               std::string_view api_key) {
  auto url = boost::urls::parse_uri(base_url);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    return invalid_argument(
        fmt::format("url: \"{}\" is not an http://HOST:PORT address", base_url));
  }
  std::string port = url->has_port() ? std::string(url->port()) : "80";
  std::string host = url->host();
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return std::unique_ptr<Client>(new Client(std::move(host), std::move(port), api_key));
}

Status Client::connect() {
  boost::system::error_code error;
  tcp::resolver resolver(context_);
  auto endpoints = resolver.resolve(host_, port_, error);
  if (!error) {
    socket_ = std::make_unique<tcp::socket>(context_);
    asio::connect(*socket_, endpoints, error);
  }
  if (error) {
    socket_.reset();
    return unavailable(fmt::format("cannot connect to {}:{}: {}", host_, port_, error.message()));
  }
  socket_->set_option(tcp::no_delay(true));
  buffer_.clear();
  return {};
}

Result<ClientResponse> Client::request(
    beast::http::verb method, std::string_view target, std::string_view body,
    std::string_view content_type,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  beast::http::request<beast::http::string_body> request{method, target, 11};
  request.set(beast::http::field::host, fmt::format("{}:{}", host_, port_));
  if (!content_type.empty()) request.set(beast::http::field::content_type, content_type);
  if (!authorization_.empty()) request.set(beast::http::field::authorization, authorization_);
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();

  const bool reused = socket_ != nullptr;
  if (!reused) SLUICE_RETURN_IF_ERROR(connect());
  auto response = exchange(request);
  if (!response.ok() && reused) {
    // The server may have closed the idle connection; one fresh attempt.
    SLUICE_RETURN_IF_ERROR(connect());
    response = exchange(request);
  }
  return response;
}

Result<ClientResponse> Client::exchange(
    const beast::http::request<beast::http::string_body>& request) {
  boost::system::error_code error;
  beast::http::write(*socket_, request, error);
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(1u << 30);
  if (!error) beast::http::read(*socket_, buffer_, parser, error);
  if (error) {
    socket_.reset();
    return unavailable(fmt::format("request to {}:{} failed: {}", host_, port_, error.message()));
  }
  auto message = parser.release();
  ClientResponse response;
  response.status = message.result_int();
  if (!message.keep_alive()) socket_.reset();
  response.body = std::move(message.body());
  for (const auto& field : message) response.headers.insert(field.name_string(), field.value());
  return response;
}

}  // namespace sluice::http
