#pragma once

// Query parameters: parsed from a request target and checked, each refusal naming the parameter
// it refuses, so that every route refuses the same things the same way.

#include <charconv>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "engine/engine.h"

namespace sluice::http {

using QueryParameters = std::map<std::string, std::string, std::less<>>;

// Why a parameter was refused: `name` is the parameter (or header), `message` says what it must be.
struct ParameterError {
  std::string name;
  std::string message;
};

// The percent-decoded parameters of an origin-form target ("/path?a=1&b=2"); of a repeated
// parameter the last wins. False if `target` is not an origin-form target.
bool parse_query(std::string_view target, QueryParameters& out);

// Whether parameter `name` is "true" or "1"; `otherwise` when absent.
bool is_true(const QueryParameters& query, std::string_view name, bool otherwise);

// Only plain decimal digits in [low, high] are accepted (no sign, spaces or overflow).
template <typename Number>
bool parse_query_number(std::string_view text, Number low, Number high, Number& out) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high) {
    return false;
  }
  out = value;
  return true;
}

// Whole seconds from parameter `name`, at most `max` (0 when absent).
std::optional<ParameterError> parse_seconds(const QueryParameters& query, std::string_view name,
                                            unsigned max, unsigned& seconds);

// One page of a list: GET /api/streams/{id}/events (which may filter by event `type`) and
// GET /api/deadletter.
struct PageQuery {
  std::string type;  // empty: every type
  std::size_t limit = 50;
  std::optional<std::string> cursor;  // as handed out with the previous page
};

// `type`, `limit` (1 to 1000) and `cursor` from `target`.
std::variant<PageQuery, ParameterError> parse_page_query(std::string_view target);

// The header that carries a query's continuation token, as Durable Functions names it.
inline constexpr std::string_view kContinuationHeader = "x-ms-continuation-token";
// The most instances one page of a query holds.
inline constexpr std::size_t kMaxTop = 1000;

// The filters of an instance query or a purge by filter (runtimeStatus, createdTimeFrom,
// createdTimeTo, instanceIdPrefix, top) and the continuation `token` (empty: the first page).
std::variant<engine::InstanceQuery, ParameterError> parse_instance_query(
    const QueryParameters& parameters, std::string_view token);

}  // namespace sluice::http
