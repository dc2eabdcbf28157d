#include "http/json_response.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <boost/json.hpp>
#include <iterator>

namespace sluice::http {

Response json_response(beast_http::status status, const boost::json::value& body) {
  Response response{status, 11};
  response.set(beast_http::field::content_type, "application/json");
  response.body() = boost::json::serialize(body);
  response.prepare_payload();
  return response;
}

Response error_response(beast_http::status status, std::string_view code, std::string_view message,
                        std::string_view field, std::optional<std::size_t> index) {
  boost::json::object error{{"code", code}, {"message", message}};
  error["field"] = field.empty() ? boost::json::value(nullptr) : boost::json::value(field);
  error["index"] = index ? boost::json::value(*index) : boost::json::value(nullptr);
  return json_response(status, boost::json::object{{"error", std::move(error)}});
}

std::string wire_format(const Response& response) {
  const std::string_view reason = response.reason();
  const std::string& body = response.body();
  std::string wire;
  wire.reserve(256 + body.size());
  fmt::format_to(std::back_inserter(wire), FMT_COMPILE("HTTP/{}.{} {} "), response.version() / 10,
                 response.version() % 10, response.result_int());
  wire.append(reason);
  wire.append("\r\n");
  for (const auto& field : response) {
    wire.append(field.name_string());
    wire.append(": ");
    wire.append(field.value());
    wire.append("\r\n");
  }
  wire.append("\r\n");
  wire.append(body);
  return wire;
}

Response bad_parameter(std::string_view name, std::string_view message) {
  return error_response(beast_http::status::bad_request, "invalid_parameter", message, name);
}

Response status_response(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return json_response(beast_http::status::ok, boost::json::object{});
    case StatusCode::kInvalidArgument:
      return error_response(beast_http::status::bad_request, "invalid_argument", status.message());
    case StatusCode::kNotFound:
      return error_response(beast_http::status::not_found, "not_found", status.message());
    case StatusCode::kAlreadyExists:
      return error_response(beast_http::status::conflict, "already_exists", status.message());
    case StatusCode::kFailedPrecondition:
      return error_response(beast_http::status::conflict, "failed_precondition", status.message());
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable: {
      Response response =
          error_response(beast_http::status::service_unavailable, "unavailable", status.message());
      response.set(beast_http::field::retry_after, "1");
      return response;
    }
    case StatusCode::kCorruption:
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      break;
  }
  return error_response(beast_http::status::internal_server_error, "internal", status.message());
}

}  // namespace sluice::http
