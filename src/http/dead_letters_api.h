#pragma once

// DeadLettersApi: the dead letters (scope admin): list, show, delete, and replay, which starts
// the event again as a new instance. What a replay or a delete does, and the rule that one change
// to a letter excludes another, belong to the pipeline (pipeline/dead_letter_changes.h).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>
#include <vector>

#include "core/clock.h"
#include "engine/engine.h"
#include "http/forwarder.h"
#include "http/management_api.h"
#include "http/route_table.h"
#include "queue/dead_letter_store.h"

namespace sluice::http {

class DeadLettersApi {
 public:
  // Every reference must outlive the object; `blocking` runs the storage reads; `management`
  // makes the replayed instance's URIs; `forwarder` sends a replay or a delete to the node that
  // runs the letter's instance.
  DeadLettersApi(queue::DeadLetterStore& store, engine::Engine& engine, const Clock& clock,
                 boost::asio::thread_pool& blocking, const ManagementApi& management,
                 const Forwarder& forwarder)
      : store_(store),
        engine_(engine),
        clock_(clock),
        blocking_(blocking),
        management_(management),
        forwarder_(forwarder) {}

  std::vector<Route> routes();

 private:
  boost::asio::awaitable<Response> list(Request& request);
  boost::asio::awaitable<Response> show(std::string id);
  boost::asio::awaitable<Response> remove(Request& request, std::string id);
  boost::asio::awaitable<Response> replay(Request& request, std::string id);

  queue::DeadLetterStore& store_;
  engine::Engine& engine_;
  const Clock& clock_;
  boost::asio::thread_pool& blocking_;
  const ManagementApi& management_;
  const Forwarder& forwarder_;
};

}  // namespace sluice::http
