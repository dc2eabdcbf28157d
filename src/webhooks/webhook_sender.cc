#include "webhooks/webhook_sender.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <unordered_map>

#include "core/worker.h"

namespace sluice::webhooks {

std::string sign(std::string_view secret, std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  std::string signature = "sha256=";
  signature.reserve(signature.size() + std::size_t{2} * length);
  for (unsigned int i = 0; i < length; ++i)
    fmt::format_to(std::back_inserter(signature), "{:02x}", digest[i]);
  return signature;
}

namespace {

// Transfers under way at once; the rest wait their turn in order, and their timeout starts when
// they do. libcurl's multi handle slows down with thousands of waiting transfers, and a burst
// should not open thousands of connections to a receiver.
constexpr std::size_t kMaxTransfers = 64;
constexpr long kMaxCachedConnections = 128;

void initialise_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t discard_body(char*, size_t size, size_t count, void*) { return size * count; }

// Requests sent together, and what to do once all have ended.
class Batch {
 public:
  Batch(std::size_t size, std::function<void(Status)> done)
      : outcomes_(size), remaining_(size), done_(std::move(done)) {}
  void end(std::size_t index, Status status) {
    outcomes_[index] = std::move(status);  // each index is written once, before the decrement
    if (remaining_.fetch_sub(1) != 1) return;
    for (auto& outcome : outcomes_) {
      if (!outcome.ok()) return done_(std::move(outcome));
    }
    done_(Status());
  }

 private:
  std::vector<Status> outcomes_;
  std::atomic<std::size_t> remaining_;
  std::function<void(Status)> done_;
};

struct Transfer {
  WebhookRequest request;
  std::shared_ptr<Batch> batch;
  std::size_t index = 0;  // in the batch
  void end(Status status) { batch->end(index, std::move(status)); }
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
};

}  // namespace

struct WebhookSender::Impl {
  CURLM* multi = curl_multi_init();
  std::mutex mutex;
  std::vector<std::unique_ptr<Transfer>> arrived;  // guarded by mutex
  Worker worker;

  // Only the sender's thread touches these.
  std::deque<std::unique_ptr<Transfer>> waiting;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> active;
  std::vector<CURL*> spare_handles;

  void run(const std::stop_token& stop);
  void begin(std::unique_ptr<Transfer> transfer);
  void finish(CURL* easy, CURLcode result);
};

void WebhookSender::Impl::begin(std::unique_ptr<Transfer> transfer) {
  CURL* easy = nullptr;
  if (spare_handles.empty()) {
    easy = curl_easy_init();
  } else {
    easy = spare_handles.back();
    spare_handles.pop_back();
    curl_easy_reset(easy);
  }
  if (easy == nullptr) {
    transfer->end(internal_error(
        fmt::format("webhook {}: libcurl could not start a transfer", transfer->request.webhook)));
    return;
  }
  const WebhookRequest& request = transfer->request;
  transfer->headers = curl_slist_append(transfer->headers, "Content-Type: application/json");
  // No "Expect: 100-continue" round trip before larger bodies.
  transfer->headers = curl_slist_append(transfer->headers, "Expect:");
  for (const auto& [name, value] : request.headers) {
    transfer->headers =
        curl_slist_append(transfer->headers, fmt::format("{}: {}", name, value).c_str());
  }
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->headers);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "sluice");
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer.get());
  transfer->easy = easy;
  if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
    curl_slist_free_all(transfer->headers);
    spare_handles.push_back(easy);
    transfer->end(internal_error(
        fmt::format("webhook {}: libcurl could not start a transfer", request.webhook)));
    return;
  }
  active.emplace(easy, std::move(transfer));
}

void WebhookSender::Impl::finish(CURL* easy, CURLcode result) {
  auto found = active.find(easy);
  if (found == active.end()) return;
  std::unique_ptr<Transfer> transfer = std::move(found->second);
  active.erase(found);
  curl_multi_remove_handle(multi, easy);
  const WebhookRequest& request = transfer->request;
  Status status;
  if (result == CURLE_OPERATION_TIMEDOUT) {
    status = unavailable(fmt::format("webhook {}: no answer within {} ms", request.webhook,
                                     request.timeout.count()));
  } else if (result != CURLE_OK) {
    status = unavailable(
        fmt::format("webhook {}: {}", request.webhook,
                    transfer->error[0] != '\0' ? transfer->error : curl_easy_strerror(result)));
  } else {
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) {
      status = unavailable(fmt::format("webhook {} answered HTTP {}", request.webhook, code));
    }
  }
  curl_slist_free_all(transfer->headers);
  spare_handles.push_back(easy);
  transfer->end(std::move(status));
}

void WebhookSender::Impl::run(const std::stop_token& stop) {
  // A stop request wakes curl_multi_poll().
  const std::stop_callback wake_on_stop(stop, [this] { curl_multi_wakeup(multi); });
  while (true) {
    std::vector<std::unique_ptr<Transfer>> starting;
    {
      std::lock_guard lock(mutex);
      if (stop.stop_requested()) break;
      starting.swap(arrived);
    }
    for (auto& transfer : starting) waiting.push_back(std::move(transfer));
    int running = 0;
    do {
      while (active.size() < kMaxTransfers && !waiting.empty()) {
        begin(std::move(waiting.front()));
        waiting.pop_front();
      }
      curl_multi_perform(multi, &running);
      int left = 0;
      while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
        if (message->msg == CURLMSG_DONE) finish(message->easy_handle, message->data.result);
      }
    } while (active.size() < kMaxTransfers && !waiting.empty());
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  for (auto& [easy, transfer] : active) {
    curl_multi_remove_handle(multi, easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(transfer->headers);
    transfer->end(unavailable("webhook sender stopped"));
  }
  for (auto& transfer : waiting) transfer->end(unavailable("webhook sender stopped"));
  std::lock_guard lock(mutex);
  for (auto& transfer : arrived) transfer->end(unavailable("webhook sender stopped"));
  for (CURL* easy : spare_handles) curl_easy_cleanup(easy);
}

WebhookSender::WebhookSender() : impl_(std::make_unique<Impl>()) {
  initialise_curl_once();
  curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS, kMaxCachedConnections);
  impl_->worker.start("webhooks",
                      [impl = impl_.get()](const std::stop_token& stop) { impl->run(stop); });
}

WebhookSender::~WebhookSender() {
  impl_->worker.stop();
  curl_multi_cleanup(impl_->multi);
}

void WebhookSender::post_all(std::vector<WebhookRequest> requests,
                             std::function<void(Status)> done) {
  if (requests.empty()) return done(Status());
  auto batch = std::make_shared<Batch>(requests.size(), std::move(done));
  std::vector<std::unique_ptr<Transfer>> refused;
  {
    std::lock_guard lock(impl_->mutex);
    for (std::size_t i = 0; i < requests.size(); ++i) {
      auto transfer = std::make_unique<Transfer>();
      transfer->request = std::move(requests[i]);
      transfer->batch = batch;
      transfer->index = i;
      (impl_->worker.stop_requested() ? refused : impl_->arrived).push_back(std::move(transfer));
    }
  }
  curl_multi_wakeup(impl_->multi);
  for (auto& transfer : refused) transfer->end(unavailable("webhook sender stopped"));
}

Status WebhookSender::post_all(std::vector<WebhookRequest> requests) {
  std::promise<Status> outcome;
  std::future<Status> ended = outcome.get_future();
  post_all(std::move(requests),
           [&outcome](Status status) { outcome.set_value(std::move(status)); });
  return ended.get();
}

}  // namespace sluice::webhooks
