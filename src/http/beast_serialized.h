#pragma once

// What Beast's own serializer puts on the wire for a response: the reference wire_format is
// checked against (json_response_test.cc) and measured beside (response_bench.cc).

#include <boost/beast/core/buffers_range.hpp>
#include <string>

#include "http/json_response.h"

namespace sluice::http {

inline std::string beast_serialized(const Response& response) {
  beast_http::serializer<false, beast_http::string_body> serializer{response};
  std::string wire;
  boost::system::error_code error;
  do {
    serializer.next(error, [&](boost::system::error_code&, const auto& buffers) {
      std::size_t size = 0;
      for (const auto buffer : boost::beast::buffers_range_ref(buffers)) {
        wire.append(static_cast<const char*>(buffer.data()), buffer.size());
        size += buffer.size();
      }
      serializer.consume(size);
    });
  } while (!error && !serializer.is_done());
  return wire;
}

}  // namespace sluice::http
