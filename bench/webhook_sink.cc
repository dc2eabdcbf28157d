// webhook_sink: a local webhook receiver for benchmarks. Answers every POST with 200 and counts
// them; prints the count when stopped (SIGTERM or SIGINT).
//
//   webhook_sink PORT

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>

#include "http/server.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: webhook_sink PORT\n");
    return 2;
  }
  std::atomic<long> deliveries{0};
  sluice::http::Server server(
      {.port = static_cast<std::uint16_t>(std::atoi(argv[1])), .threads = 1},
      [&deliveries](
          sluice::http::Request& request) -> boost::asio::awaitable<sluice::http::Response> {
        ++deliveries;
        sluice::http::Response response{boost::beast::http::status::ok, request.version()};
        response.keep_alive(request.keep_alive());
        response.prepare_payload();
        co_return response;
      });
  if (auto listening = server.listen(); !listening.ok()) {
    fmt::print(stderr, "webhook_sink: {}\n", listening.message());
    return 1;
  }
  fmt::print("listening on 127.0.0.1:{}\n", server.port());
  std::fflush(stdout);
  server.run();
  fmt::print("deliveries {}\n", deliveries.load());
  return 0;
}
