#pragma once

// RouteTable: every HTTP route declared once — method, path pattern, who may call it, handler —
// and the one place where requests are matched and authorised. Authorisation is derived from the
// declarations and fails closed: a route names the scope it needs or is declared open to all, and
// one declared with neither is refused to everyone.
//
// A pattern is a path of literal segments and `{name}` segments; each `{name}` matches one
// non-empty segment, as it appears in the request (not percent-decoded), and is handed to the
// handler in order. A path that only another method's route matches is answered 405 with Allow;
// a path that matches nothing, 404.

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/auth.h"
#include "http/json_response.h"

namespace sluice::http {

enum class Access { kUndeclared, kOpen, kIngest, kRead, kAdmin };

// The segments that a route's `{name}` parts matched, in order.
using PathParameters = std::vector<std::string>;
using RouteHandler = std::function<boost::asio::awaitable<Response>(Request&, PathParameters)>;

struct Route {
  beast_http::verb method;
  std::string pattern;
  Access access = Access::kUndeclared;
  RouteHandler handler;
};

class RouteTable {
 public:
  // `auth` must outlive the table.
  RouteTable(std::vector<Route> routes, const Authenticator& auth);

  // Matches, authorises and runs the request's route.
  boost::asio::awaitable<Response> dispatch(Request& request) const;

  // The route `method` and `path` take, with what its `{name}` segments matched; null when none
  // does, and then `allow` lists the methods that the path's routes take (empty: no route).
  struct Match {
    const Route* route = nullptr;
    PathParameters parameters;
    std::string allow;
  };
  Match match(beast_http::verb method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::optional<Response> authorise(const Request& request, Access access) const;

  std::vector<Route> routes_;
  const Authenticator& auth_;
};

}  // namespace sluice::http
