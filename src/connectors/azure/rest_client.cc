#include "connectors/azure/rest_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <mutex>

namespace sluice::azure {
namespace {

void initialise_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append_body(char* data, size_t size, size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

size_t append_header(char* data, size_t size, size_t count, void* target) {
  std::string_view line(data, size * count);
  auto& headers = *static_cast<std::vector<std::pair<std::string, std::string>>*>(target);
  if (line.starts_with("HTTP/")) headers.clear();  // a new response (after a 100 Continue)
  const std::size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    headers.emplace_back(std::move(name), std::string(value));
  }
  return size * count;
}

}  // namespace

std::string RestResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

struct RestClient::Impl {
  CURL* easy = nullptr;
  long timeout_ms = 0;
};

RestClient::RestClient(std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>()) {
  initialise_curl_once();
  impl_->easy = curl_easy_init();
  impl_->timeout_ms = static_cast<long>(timeout.count());
}

RestClient::~RestClient() {
  if (impl_->easy != nullptr) curl_easy_cleanup(impl_->easy);
}

Result<RestResponse> RestClient::send(std::string_view method, const std::string& url,
                                      const std::vector<std::string>& headers,
                                      std::string_view body) {
  CURL* easy = impl_->easy;
  if (easy == nullptr) return internal_error("libcurl could not start");
  curl_easy_reset(easy);  // keeps the connection cache
  RestResponse response;
  char error[CURL_ERROR_SIZE] = {};
  curl_slist* list = nullptr;
  for (const auto& header : headers) list = curl_slist_append(list, header.c_str());
  // libcurl would add these itself; Shared Key signs the request exactly as sent.
  list = curl_slist_append(list, "Expect:");
  list = curl_slist_append(list, "Accept:");
  const std::string verb(method);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, verb.c_str());
  if (verb == "HEAD") curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  if (!body.empty() || verb == "POST" || verb == "PUT" || verb == "PATCH") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (std::none_of(headers.begin(), headers.end(), [](const std::string& header) {
          return header.starts_with("Content-Type:") || header.starts_with("content-type:");
        })) {
      list = curl_slist_append(list, "Content-Type:");
    }
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, impl_->timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, std::min(impl_->timeout_ms, 10'000L));
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, append_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &response.headers);
  const CURLcode code = curl_easy_perform(easy);
  curl_slist_free_all(list);
  if (code != CURLE_OK) {
    return unavailable(fmt::format("{} {}: {}", verb, url.substr(0, url.find('?')),
                                   error[0] != '\0' ? error : curl_easy_strerror(code)));
  }
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace sluice::azure
