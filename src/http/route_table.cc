#include "http/route_table.h"

#include <fmt/format.h>

namespace sluice::http {
namespace {

// Whether `path` matches `pattern`; on a match, `parameters` holds the `{name}` segments.
bool matches(std::string_view pattern, std::string_view path, PathParameters& parameters) {
  parameters.clear();
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty() || pattern.front() != '/' || path.front() != '/') {
      return false;
    }
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    const std::string_view want = pattern.substr(0, pattern.find('/'));
    const std::string_view have = path.substr(0, path.find('/'));
    if (want.starts_with('{') && want.ends_with('}')) {
      if (have.empty()) return false;
      parameters.emplace_back(have);
    } else if (want != have) {
      return false;
    }
    pattern.remove_prefix(want.size());
    path.remove_prefix(have.size());
  }
  return true;
}

Response not_allowed(const std::string& allow) {
  Response response = error_response(beast_http::status::method_not_allowed, "method_not_allowed",
                                     fmt::format("use {}", allow));
  response.set(beast_http::field::allow, allow);
  return response;
}

}  // namespace

RouteTable::RouteTable(std::vector<Route> routes, const Authenticator& auth)
    : routes_(std::move(routes)), auth_(auth) {}

RouteTable::Match RouteTable::match(beast_http::verb method, std::string_view path) const {
  Match found;
  PathParameters parameters;
  for (const Route& route : routes_) {
    if (!matches(route.pattern, path, parameters)) continue;
    if (route.method == method) {
      found.route = &route;
      found.parameters = std::move(parameters);
      found.allow.clear();
      return found;
    }
    const std::string_view name = beast_http::to_string(route.method);
    if (found.allow.find(name) == std::string::npos) {
      if (!found.allow.empty()) found.allow += ", ";
      found.allow += name;
    }
  }
  return found;
}

std::optional<Response> RouteTable::authorise(const Request& request, Access access) const {
  switch (access) {
    case Access::kOpen:
      return std::nullopt;
    case Access::kIngest:
      return auth_.check(request, Scope::kIngest);
    case Access::kRead:
      return auth_.check(request, Scope::kRead);
    case Access::kAdmin:
      return auth_.check(request, Scope::kAdmin);
    case Access::kUndeclared:
      break;
  }
  return error_response(beast_http::status::forbidden, "forbidden",
                        "this route declares no access, so nobody may call it");
}

boost::asio::awaitable<Response> RouteTable::dispatch(Request& request) const {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  Match found = match(request.method(), path);
  if (found.route == nullptr) {
    if (!found.allow.empty()) co_return not_allowed(found.allow);
    co_return error_response(beast_http::status::not_found, "not_found",
                             fmt::format("no route for {}", path.substr(0, 200)));
  }
  if (auto refusal = authorise(request, found.route->access)) co_return std::move(*refusal);
  co_return co_await found.route->handler(request, std::move(found.parameters));
}

}  // namespace sluice::http
