#include "http/query.h"

#include <fmt/format.h>

#include <boost/url/parse.hpp>

#include "core/clock.h"
#include "pipeline/event.h"

namespace sluice::http {

bool parse_query(std::string_view target, QueryParameters& out) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return false;
  for (auto param : url->params()) out[param.key] = param.value;
  return true;
}

bool is_true(const QueryParameters& query, std::string_view name, bool otherwise) {
  auto found = query.find(name);
  if (found == query.end()) return otherwise;
  return found->second == "true" || found->second == "1";
}

std::optional<ParameterError> parse_seconds(const QueryParameters& query, std::string_view name,
                                            unsigned max, unsigned& seconds) {
  seconds = 0;
  auto found = query.find(name);
  if (found == query.end() || parse_query_number(found->second, 0u, max, seconds)) {
    return std::nullopt;
  }
  return ParameterError{std::string(name),
                        fmt::format("must be a whole number of seconds from 0 to {}", max)};
}

std::variant<PageQuery, ParameterError> parse_page_query(std::string_view target) {
  PageQuery query;
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return ParameterError{"query", "is malformed"};
  for (auto param : url->params()) {
    if (param.key == "type") {
      if (!pipeline::is_event_type(param.value)) {
        return ParameterError{"type", "must be one of follower, subscription, donation, cheer"};
      }
      query.type = param.value;
    } else if (param.key == "limit") {
      if (!parse_query_number<std::size_t>(param.value, 1, 1000, query.limit)) {
        return ParameterError{"limit", "must be a whole number from 1 to 1000"};
      }
    } else if (param.key == "cursor") {
      // Cursors are "<time>-<event id>" or a dead letter's id as handed out; nothing else.
      const bool cursor_alphabet = std::all_of(param.value.begin(), param.value.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
               c == '-';
      });
      if (param.value.empty() || param.value.size() > 150 || !cursor_alphabet) {
        return ParameterError{"cursor", "is not a cursor this server gave out"};
      }
      query.cursor = param.value;
    }
  }
  return query;
}

std::variant<engine::InstanceQuery, ParameterError> parse_instance_query(
    const QueryParameters& parameters, std::string_view token) {
  engine::InstanceQuery query;
  if (auto found = parameters.find("runtimeStatus"); found != parameters.end()) {
    std::string_view rest = found->second;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view name = rest.substr(0, comma);
      engine::RuntimeStatus parsed;
      if (!engine::parse_runtime_status(name, parsed)) {
        return ParameterError{"runtimeStatus",
                              fmt::format("\"{}\" is not Pending, Running, Completed, Failed, "
                                          "Terminated or Suspended",
                                          name.substr(0, 40))};
      }
      query.statuses.push_back(parsed);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  for (const char* key : {"createdTimeFrom", "createdTimeTo"}) {
    auto found = parameters.find(key);
    if (found == parameters.end()) continue;
    Micros time;
    if (!parse_rfc3339(found->second, time)) return ParameterError{key, "must be an RFC 3339 time"};
    (std::string_view(key) == "createdTimeFrom" ? query.created_from : query.created_to) = time;
  }
  if (auto found = parameters.find("instanceIdPrefix"); found != parameters.end()) {
    if (found->second.size() > 128 || found->second.find('\0') != std::string::npos) {
      return ParameterError{"instanceIdPrefix", "must be at most 128 characters"};
    }
    query.id_prefix = found->second;
  }
  if (auto found = parameters.find("top"); found != parameters.end()) {
    if (!parse_query_number<std::size_t>(found->second, 1, kMaxTop, query.top)) {
      return ParameterError{"top", fmt::format("must be a whole number from 1 to {}", kMaxTop)};
    }
  }
  if (!token.empty()) {
    if (!pipeline::is_valid_id(token)) {
      return ParameterError{std::string(kContinuationHeader),
                            "is not a token this server gave out"};
    }
    query.continuation = std::string(token);
  }
  return query;
}

}  // namespace sluice::http
