#pragma once

// Client: a small blocking HTTP/1.1 client over one keep-alive connection, for the CLI and the
// tests. Not for the server's own threads.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/status.h"

namespace sluice::http {

struct ClientResponse {
  unsigned status = 0;
  std::string body;
  boost::beast::http::fields headers;
};

class Client {
 public:
  // `base_url` is http://HOST:PORT; nothing is connected until the first request. A non-empty
  // `api_key` goes with every request as `Authorization: Bearer …`.
  static Result<std::unique_ptr<Client>> create(std::string_view base_url,
                                                std::string_view api_key = {});

  // Sends one request; reconnects once if the kept-alive connection was closed meanwhile.
  Result<ClientResponse> request(
      boost::beast::http::verb method, std::string_view target, std::string_view body = {},
      std::string_view content_type = {},
      const std::vector<std::pair<std::string, std::string>>& headers = {});
  Result<ClientResponse> get(std::string_view target) {
    return request(boost::beast::http::verb::get, target);
  }
  Result<ClientResponse> post(std::string_view target, std::string_view body,
                              std::string_view content_type = "application/json") {
    return request(boost::beast::http::verb::post, target, body, content_type);
  }

 private:
  Client(std::string host, std::string port, std::string_view api_key)
      : host_(std::move(host)),
        port_(std::move(port)),
        authorization_(api_key.empty() ? "" : "Bearer " + std::string(api_key)) {}
  Status connect();
  Result<ClientResponse> exchange(
      const boost::beast::http::request<boost::beast::http::string_body>&);

  std::string host_;
  std::string port_;
  std::string authorization_;  // empty: none sent
  boost::asio::io_context context_;
  std::unique_ptr<boost::asio::ip::tcp::socket> socket_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace sluice::http
