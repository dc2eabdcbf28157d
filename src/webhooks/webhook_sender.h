#pragma once

// WebhookSender: posts JSON bodies to webhook endpoints over HTTP(S).
//
// One thread drives a libcurl multi handle; callers on any thread hand it requests and wait for
// their outcomes. Connections stay open and are reused for later requests to the same host.
// A delivery succeeds only on a 2xx answer within its timeout; anything else is a failure whose
// message names the webhook and what went wrong.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/status.h"

namespace sluice::webhooks {

struct WebhookRequest {
  std::string webhook;  // the configured name, for error messages
  std::string url;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
  std::chrono::milliseconds timeout{5000};
};

// "sha256=" followed by the lower-case hex HMAC-SHA256 of `body` keyed with `secret`.
std::string sign(std::string_view secret, std::string_view body);

class WebhookSender {
 public:
  WebhookSender();
  ~WebhookSender();  // fails what is still in flight with "sender stopped"
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Sends every request at once; once all have ended, calls `done` (on the sender's thread, or
  // on the caller's when there is nothing to send) with OK when every one got a 2xx, otherwise
  // the first failure in request order. `done` must not block.
  void post_all(std::vector<WebhookRequest> requests, std::function<void(Status)> done);
  // The same, waiting for the outcome.
  Status post_all(std::vector<WebhookRequest> requests);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::webhooks
