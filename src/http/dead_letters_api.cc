#include "http/dead_letters_api.h"

#include <boost/json.hpp>
#include <optional>
#include <variant>

#include "http/offload.h"
#include "http/query.h"
#include "pipeline/dead_letter_changes.h"
#include "pipeline/event.h"

namespace sluice::http {

namespace json = boost::json;
using beast_http::status;

namespace {

std::optional<Response> refuse_invalid_id(std::string_view id) {
  if (pipeline::is_valid_id(id)) return std::nullopt;
  return bad_parameter("id", "is not a valid id");
}

// The answer to a change the letter refused: it was changed by another request meanwhile.
Response change_refused(const Status& status) {
  if (status.code() == StatusCode::kFailedPrecondition) {
    return error_response(status::conflict, "changed",
                          "this dead letter was replayed or deleted by another request meanwhile");
  }
  return status_response(status);
}

// Built outside any coroutine frame (GCC 12, see docs/architecture.md).
auto read_change(boost::asio::thread_pool& pool, queue::DeadLetterStore& store, std::string id,
                 Micros now) {
  return run_blocking(pool, [&store, id = std::move(id), now] {
    return pipeline::read_dead_letter(store, id, now);
  });
}

auto read_page(boost::asio::thread_pool& pool, queue::DeadLetterStore& store, PageQuery query) {
  return run_blocking(
      pool, [&store, query = std::move(query)] { return store.list(query.cursor, query.limit); });
}

auto commit_replay(engine::Engine& engine, queue::DeadLetterStore& store,
                   pipeline::DeadLetterChange change) {
  return await_status([&engine, &store, change = std::move(change)](engine::Reply reply) mutable {
    pipeline::replay_dead_letter(engine, store, std::move(change), std::move(reply));
  });
}

auto commit_delete(engine::Engine& engine, queue::DeadLetterStore& store,
                   pipeline::DeadLetterChange change) {
  return await_status([&engine, &store, change = std::move(change)](engine::Reply reply) mutable {
    pipeline::delete_dead_letter(engine, store, std::move(change), std::move(reply));
  });
}

}  // namespace

std::vector<Route> DeadLettersApi::routes() {
  using beast_http::verb;
  return {
      {verb::get, "/api/deadletter", Access::kAdmin,
       [this](Request& request, PathParameters) { return list(request); }},
      {verb::get, "/api/deadletter/{id}", Access::kAdmin,
       [this](Request&, PathParameters p) { return show(std::move(p[0])); }},
      {verb::delete_, "/api/deadletter/{id}", Access::kAdmin,
       [this](Request& request, PathParameters p) { return remove(request, std::move(p[0])); }},
      {verb::post, "/api/deadletter/{id}/replay", Access::kAdmin,
       [this](Request& request, PathParameters p) { return replay(request, std::move(p[0])); }},
  };
}

boost::asio::awaitable<Response> DeadLettersApi::list(Request& request) {
  auto query = parse_page_query(request.target());  // limit and cursor, as for events
  if (auto* refusal = std::get_if<ParameterError>(&query)) {
    co_return bad_parameter(refusal->name, refusal->message);
  }
  const std::size_t limit = std::get<PageQuery>(query).limit;
  auto page = co_await read_page(blocking_, store_, std::get<PageQuery>(std::move(query)));
  if (!page.ok()) co_return status_response(page.status());
  json::array items;
  for (const auto& letter : *page) items.push_back(json::parse(letter.record));
  const bool more = page->size() == limit;
  co_return json_response(
      status::ok,
      json::object{{"items", std::move(items)},
                   {"next_cursor", more ? json::value(page->back().id) : json::value(nullptr)}});
}

boost::asio::awaitable<Response> DeadLettersApi::show(std::string id) {
  if (auto refusal = refuse_invalid_id(id)) co_return std::move(*refusal);
  auto letter = co_await run_blocking(blocking_, [this, &id] { return store_.get(id); });
  if (!letter.ok()) co_return status_response(letter.status());
  if (!*letter) co_return error_response(status::not_found, "not_found", "no such dead letter");
  co_return json_response(status::ok, json::parse((*letter)->record));
}

boost::asio::awaitable<Response> DeadLettersApi::remove(Request& request, std::string id) {
  if (auto refusal = refuse_invalid_id(id)) co_return std::move(*refusal);
  auto change = co_await read_change(blocking_, store_, id, clock_.now());
  if (!change.ok()) co_return status_response(change.status());
  // The delete commits in the partition of the letter's instance.
  if (auto answer = co_await forwarder_.elsewhere(request, change->replay_instance_id)) {
    co_return std::move(*answer);
  }
  const Status deleted = co_await commit_delete(engine_, store_, std::move(*change));
  if (!deleted.ok()) co_return change_refused(deleted);
  co_return json_response(status::ok, json::object{{"deleted", 1}});
}

boost::asio::awaitable<Response> DeadLettersApi::replay(Request& request, std::string id) {
  if (auto refusal = refuse_invalid_id(id)) co_return std::move(*refusal);
  const UriBase base = management_.uri_base(request);
  auto change = co_await read_change(blocking_, store_, id, clock_.now());
  if (!change.ok()) co_return status_response(change.status());
  if (change->replay_input.empty()) {
    co_return error_response(status::conflict, "no_event",
                             "this dead letter holds no event to replay; delete it instead");
  }
  const std::string instance_id = change->replay_instance_id;
  if (auto answer = co_await forwarder_.elsewhere(request, instance_id)) {
    co_return std::move(*answer);
  }
  const Status started = co_await commit_replay(engine_, store_, std::move(*change));
  if (!started.ok()) co_return change_refused(started);
  const std::string status_uri = base.instance_uri(instance_id);
  Response response = json_response(
      status::accepted, json::object{{"id", instance_id}, {"statusQueryGetUri", status_uri}});
  response.set(beast_http::field::location, status_uri);
  co_return response;
}

}  // namespace sluice::http
