#pragma once

// RestClient: blocking HTTP/1.1 and HTTPS requests over libcurl, for the Azure connectors' own
// threads. One client keeps its connections alive between requests (one client per thread);
// every request has a deadline. Transport failures come back as kUnavailable, never as a
// response.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/status.h"

namespace sluice::azure {

struct RestResponse {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  // The first header called `name` (lower-case), or "".
  std::string header(std::string_view name) const;
};

class RestClient {
 public:
  explicit RestClient(std::chrono::milliseconds timeout);
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  // Sends `body` (with `headers` as "Name: value" lines, exactly those: libcurl adds no
  // Content-Type or Expect of its own) and reads the whole response.
  Result<RestResponse> send(std::string_view method, const std::string& url,
                            const std::vector<std::string>& headers, std::string_view body = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::azure
