#pragma once

// TcpProxy: forwards every connection made to a free loopback port on to `target_port`, and cuts
// them all at once on demand (both sides shut), as a network that fails does: the client sees
// its connection end, while the server, busy with what it already received, may not notice yet.
// New connections are still forwarded after a cut.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sluice::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof(address);
    if (listener_ < 0 || ::bind(listener_, as_sockaddr(address), sizeof(address)) != 0 ||
        ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, as_sockaddr(address), &length) != 0) {
      throw std::runtime_error("TcpProxy: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~TcpProxy() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    cut();
    for (auto& pump : pumps_) pump.join();
    for (int socket : sockets_) ::close(socket);
    ::close(listener_);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }

  // Shuts every connection forwarded so far, on both sides.
  void cut() {
    std::lock_guard lock(mutex_);
    for (int socket : sockets_) ::shutdown(socket, SHUT_RDWR);
  }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    return address;
  }
  static sockaddr* as_sockaddr(sockaddr_in& address) {
    return reinterpret_cast<sockaddr*>(&address);
  }

  void accept_loop() {
    while (!stopping_) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;  // shut down
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in target = loopback(target_port_);
      if (server < 0 || ::connect(server, as_sockaddr(target), sizeof(target)) != 0) {
        ::close(client);
        if (server >= 0) ::close(server);
        continue;
      }
      std::lock_guard lock(mutex_);
      sockets_.push_back(client);
      sockets_.push_back(server);
      pumps_.emplace_back(pump, client, server);
      pumps_.emplace_back(pump, server, client);
    }
  }

  // Copies from `from` to `to` until either side ends, then ends the other direction too.
  static void pump(int from, int to) {
    char buffer[16384];
    while (true) {
      const ssize_t got = ::read(from, buffer, sizeof(buffer));
      if (got <= 0) break;
      for (ssize_t sent = 0; sent < got;) {
        const ssize_t wrote =
            ::send(to, buffer + sent, static_cast<std::size_t>(got - sent), MSG_NOSIGNAL);
        if (wrote <= 0) {
          ::shutdown(from, SHUT_RDWR);
          return;
        }
        sent += wrote;
      }
    }
    ::shutdown(to, SHUT_RDWR);
  }

  const int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<int> sockets_;        // guarded by mutex_; closed by the destructor
  std::vector<std::thread> pumps_;  // guarded by mutex_
  std::thread acceptor_;
};

}  // namespace sluice::testing
