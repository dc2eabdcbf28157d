#pragma once

// Building HTTP responses. Every error body has one shape:
//   {"error":{"code":"invalid_field","message":"…","field":"amount","index":3}}
// `field` and `index` are null when they do not apply.

#include <boost/beast/http.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/status.h"

namespace sluice::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;

Response json_response(beast_http::status status, const boost::json::value& body);

Response error_response(beast_http::status status, std::string_view code, std::string_view message,
                        std::string_view field = {}, std::optional<std::size_t> index = {});

// 400 invalid_parameter, naming the parameter and what it must be.
Response bad_parameter(std::string_view name, std::string_view message);

// The one place where a Status becomes an HTTP answer.
Response status_response(const Status& status);

// `response` as HTTP/1.1 puts it on the wire, status line, fields and body in one buffer: one
// send, and none of the per-byte walking of Beast's serializer over its header and body pieces.
std::string wire_format(const Response& response);

}  // namespace sluice::http
