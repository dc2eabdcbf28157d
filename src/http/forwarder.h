#pragma once

// Forwarder: where nodes share storage, a call that changes an instance (start, raise, terminate,
// suspend, resume, restart, purge, a dead letter's replay or delete) must run on the node that
// holds the instance's partition. The Forwarder sends such a request to that node and hands back
// its answer unchanged. The request keeps its Host, so the URIs in the answer point where the
// client called. A forwarded request carries `Sluice-Forwarded-By` and is never forwarded again:
// a node that no longer holds the partition answers 503 + Retry-After, and the client's retry
// finds the node that holds it now. A purge by filter goes to every node, each purging what it
// runs.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/json_response.h"

namespace sluice::http {

// Where nodes share storage, how a node finds the others (addresses are host:port).
struct Peers {
  // The node that runs `instance_id`, when that is another node; nothing when it runs here or
  // nobody is known to hold its partition.
  std::function<std::optional<std::string>(std::string_view instance_id)> owner_of;
  // The other live nodes.
  std::function<std::vector<std::string>()> others;
};

class Forwarder {
 public:
  // Forwards nothing: every instance runs here.
  Forwarder() = default;
  // `self` names this node in the requests it forwards.
  Forwarder(Peers peers, std::string self) : peers_(std::move(peers)), self_(std::move(self)) {}

  // How long a node is given to answer a forwarded call, unless the call says it waits longer.
  static constexpr std::chrono::seconds kAnswerTimeout{30};

  // The answer of the node that runs `instance_id` to `request`, given `answer_within` (a start
  // may wait for its instance to finish); nothing when this node is to answer: it runs the
  // instance, nobody is known to, or `request` was forwarded here.
  boost::asio::awaitable<std::optional<Response>> elsewhere(
      const Request& request, std::string_view instance_id,
      std::chrono::seconds answer_within = kAnswerTimeout) const;

  // The answers of every other live node to `request`, each with its address, for a call that
  // concerns the instances of every partition (purge by filter); none when `request` was
  // forwarded here.
  boost::asio::awaitable<std::vector<std::pair<std::string, Response>>> everywhere_else(
      const Request& request) const;

 private:
  boost::asio::awaitable<Response> send(const Request& request, const std::string& address,
                                        std::chrono::seconds answer_within) const;

  Peers peers_;
  std::string self_;
};

}  // namespace sluice::http
