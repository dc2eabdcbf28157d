#include "http/streams_api.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <optional>
#include <variant>

#include "http/offload.h"
#include "http/query.h"
#include "pipeline/event.h"

namespace sluice::http {

namespace json = boost::json;
using beast_http::status;

namespace {

std::optional<Response> refuse_invalid_stream(std::string_view stream_id) {
  if (pipeline::is_valid_id(stream_id)) return std::nullopt;
  return bad_parameter("stream_id",
                       "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'");
}

// Storage work on the blocking pool, captured outside any coroutine frame (GCC 12, see
// docs/architecture.md).
auto read_events(boost::asio::thread_pool& pool, pipeline::StreamStore& streams,
                 std::string stream_id, PageQuery query) {
  return run_blocking(pool,
                      [&streams, stream_id = std::move(stream_id),
                       query = std::move(query)]() -> Result<pipeline::EventsPage> {
                        return streams.events(stream_id, query.type, query.limit, query.cursor);
                      });
}

}  // namespace

std::vector<Route> StreamsApi::routes() {
  using beast_http::verb;
  return {
      {verb::get, "/api/streams/{stream_id}/stats", Access::kRead,
       [this](Request&, PathParameters p) { return stats(std::move(p[0])); }},
      {verb::get, "/api/streams/{stream_id}/events", Access::kRead,
       [this](Request& request, PathParameters p) { return events(request, std::move(p[0])); }},
  };
}

boost::asio::awaitable<Response> StreamsApi::stats(std::string stream_id) {
  if (auto refusal = refuse_invalid_stream(stream_id)) co_return std::move(*refusal);
  auto stats = co_await run_blocking(blocking_,
                                     [this, &stream_id] { return streams_.stats_view(stream_id); });
  if (!stats.ok()) co_return status_response(stats.status());
  if (!*stats) {
    co_return error_response(status::not_found, "not_found",
                             fmt::format("no events seen for stream {}", stream_id));
  }
  co_return json_response(status::ok, **stats);
}

boost::asio::awaitable<Response> StreamsApi::events(Request& request, std::string stream_id) {
  if (auto refusal = refuse_invalid_stream(stream_id)) co_return std::move(*refusal);
  auto query = parse_page_query(request.target());
  if (auto* refusal = std::get_if<ParameterError>(&query)) {
    co_return bad_parameter(refusal->name, refusal->message);
  }
  auto page =
      co_await read_events(blocking_, streams_, stream_id, std::get<PageQuery>(std::move(query)));
  if (!page.ok()) co_return status_response(page.status());
  json::array items;
  for (auto& item : page->items) items.push_back(std::move(item));
  co_return json_response(
      status::ok, json::object{{"items", std::move(items)},
                               {"next_cursor", page->next_cursor ? json::value(*page->next_cursor)
                                                                 : json::value(nullptr)}});
}

}  // namespace sluice::http
