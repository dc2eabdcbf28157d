#include "connectors/azure/storage_queue.h"

#include <fmt/format.h>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <sstream>

#include "connectors/azure/signing.h"

namespace sluice::azure {
namespace {

namespace pt = boost::property_tree;

// The status for a response that is no success: the service's error code from its XML body.
Status failure(std::string_view what, const RestResponse& response) {
  std::string code = response.header("x-ms-error-code");
  if (code.empty()) code = fmt::format("HTTP {}", response.status);
  const std::string message = fmt::format("{}: {} ({})", what, code, response.status);
  // A pop receipt that no longer holds (the message was received again) is 400 with this code.
  if (response.status == 404 || code == "PopReceiptMismatch") return not_found(message);
  // Only a body the service cannot take (beyond its limit, or characters XML 1.0 has not) can
  // never succeed. Everything else may pass on a later try: throttling, a clock or a SAS put
  // right, a queue still being deleted (409).
  if (response.status == 413 || code == "RequestBodyTooLarge" || code == "MessageTooLarge" ||
      code.starts_with("InvalidXml")) {
    return invalid_argument(message);
  }
  return unavailable(message);
}

std::string xml_escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&apos;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

// "Fri, 09 Oct 2009 21:04:30 GMT" → microseconds; 0 when it cannot be read.
Micros parse_http_date(const std::string& text) {
  std::tm utc{};
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  in >> std::get_time(&utc, "%a, %d %b %Y %H:%M:%S");
  if (in.fail()) return 0;
  return static_cast<Micros>(timegm(&utc)) * 1'000'000;
}

}  // namespace

StorageQueue::StorageQueue(const StorageAccount& account, std::string queue, const Clock& clock,
                           std::chrono::milliseconds timeout)
    : account_(account), queue_(std::move(queue)), clock_(clock), client_(timeout) {}

Result<RestResponse> StorageQueue::send(
    std::string_view verb, const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& query, std::string_view body) {
  const std::string date = http_date(clock_.now());
  std::vector<std::string> headers{fmt::format("x-ms-date: {}", date),
                                   fmt::format("x-ms-version: {}", kVersion)};
  const std::string content_type = body.empty() ? "" : "application/xml";
  if (!content_type.empty()) headers.push_back("Content-Type: " + content_type);
  // The path as sent: the endpoint's own path (an emulator's account) and the resource's.
  const std::size_t authority = account_.queue_endpoint.find("//") + 2;
  const std::size_t slash = account_.queue_endpoint.find('/', authority);
  const std::string endpoint_path =
      slash == std::string::npos ? "" : account_.queue_endpoint.substr(slash);
  std::string url = account_.queue_endpoint + path;
  std::string separator = "?";
  for (const auto& [name, value] : query) {
    url += separator + url_encode(name) + "=" + url_encode(value);
    separator = "&";
  }
  if (!account_.sas.empty()) {
    url += separator + account_.sas;
  } else {
    const std::string signed_path = endpoint_path + path;
    StorageRequest request{
        .verb = verb,
        .path = signed_path,
        .query = query,
        .ms_headers = {{"x-ms-date", date}, {"x-ms-version", std::string(kVersion)}},
        .content_length = body.size(),
        .content_type = content_type};
    headers.push_back("Authorization: " +
                      shared_key_authorization(account_.name, account_.key, request));
  }
  return client_.send(verb, url, headers, body);
}

Status StorageQueue::create() {
  SLUICE_ASSIGN_OR_RETURN(auto response, send("PUT", "/" + queue_, {}, {}));
  if (response.status == 201 || response.status == 204) return {};
  return failure(fmt::format("creating queue {}", queue_), response);
}

Result<std::vector<QueueMessage>> StorageQueue::receive(int count,
                                                        std::chrono::seconds visibility) {
  SLUICE_ASSIGN_OR_RETURN(auto response,
                          send("GET", "/" + queue_ + "/messages",
                               {{"numofmessages", std::to_string(count)},
                                {"visibilitytimeout", std::to_string(visibility.count())}},
                               {}));
  if (response.status != 200) return failure(fmt::format("receiving from {}", queue_), response);
  std::vector<QueueMessage> messages;
  try {
    pt::ptree tree;
    std::istringstream in(response.body);
    pt::read_xml(in, tree);
    const auto list = tree.get_child_optional("QueueMessagesList");
    if (!list) return messages;
    for (const auto& [tag, node] : *list) {
      if (tag != "QueueMessage") continue;
      QueueMessage message;
      message.id = node.get<std::string>("MessageId");
      message.pop_receipt = node.get<std::string>("PopReceipt");
      message.text = node.get<std::string>("MessageText", "");
      message.dequeue_count = node.get<std::int64_t>("DequeueCount", 1);
      message.inserted_at = parse_http_date(node.get<std::string>("InsertionTime", ""));
      messages.push_back(std::move(message));
    }
  } catch (const pt::ptree_error& error) {
    return unavailable(
        fmt::format("receiving from {}: unreadable answer: {}", queue_, error.what()));
  }
  return messages;
}

Status StorageQueue::remove(const QueueMessage& message) {
  SLUICE_ASSIGN_OR_RETURN(auto response, send("DELETE", "/" + queue_ + "/messages/" + message.id,
                                              {{"popreceipt", message.pop_receipt}}, {}));
  if (response.status == 204 || response.status == 200) return {};
  return failure(fmt::format("deleting message {} from {}", message.id, queue_), response);
}

Status StorageQueue::put(std::string_view text) {
  const std::string body =
      fmt::format("<QueueMessage><MessageText>{}</MessageText></QueueMessage>", xml_escape(text));
  SLUICE_ASSIGN_OR_RETURN(auto response,
                          send("POST", "/" + queue_ + "/messages", {{"messagettl", "-1"}}, body));
  if (response.status == 201) return {};
  return failure(fmt::format("putting a message on {}", queue_), response);
}

}  // namespace sluice::azure
