// `sluice send`: post one event built from flags, or NDJSON events from a file or stdin in
// batches; print each event's id.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "http/client.h"

namespace sluice::cli {
namespace {

namespace json = boost::json;

// Posts one request body; prints the ids it got back. False on any failure (already reported).
bool post(http::Client& client, const std::string& body, std::string_view content_type) {
  auto response = client.post("/api/events", body, content_type);
  if (!response.ok()) {
    fmt::print(stderr, "sluice send: {}\n", response.status().message());
    return false;
  }
  if (response->status != 202) {
    fmt::print(stderr, "sluice send: HTTP {}: {}\n", response->status, response->body);
    return false;
  }
  boost::system::error_code error;
  json::value answer = json::parse(response->body, error);
  if (error || !answer.is_object()) {
    fmt::print(stderr, "sluice send: unexpected answer: {}\n", response->body);
    return false;
  }
  const json::object& object = answer.get_object();
  if (const auto* ids = object.if_contains("ids")) {
    for (const auto& id : ids->as_array()) fmt::print("{}\n", std::string_view(id.as_string()));
  } else if (const auto* id = object.if_contains("id")) {
    fmt::print("{}{}\n", std::string_view(id->as_string()),
               object.at("duplicate").as_bool() ? " (duplicate)" : "");
  }
  return true;
}

int send_file(http::Client& client, const SendFlags& flags) {
  std::ifstream file;
  std::istream* input = &std::cin;
  if (*flags.file != "-") {
    file.open(*flags.file);
    if (!file) {
      fmt::print(stderr, "sluice send: cannot read {}\n", *flags.file);
      return kExitUsage;
    }
    input = &file;
  }
  std::string batch;
  std::size_t in_batch = 0;
  std::string line;
  while (std::getline(*input, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    batch += line;
    batch += '\n';
    if (++in_batch == flags.batch_size) {
      if (!post(client, batch, "application/x-ndjson")) return kExitFailure;
      batch.clear();
      in_batch = 0;
    }
  }
  if (in_batch > 0 && !post(client, batch, "application/x-ndjson")) return kExitFailure;
  return kExitOk;
}

}  // namespace

int send(const SendFlags& flags) {
  auto client = http::Client::create(flags.server.url, flags.server.api_key);
  if (!client.ok()) {
    fmt::print(stderr, "sluice send: {}\n", client.status().message());
    return kExitUsage;
  }
  if (flags.file) {
    if (flags.stream_id || flags.type) {
      fmt::print(stderr, "sluice send: give either --file or the event's flags, not both\n");
      return kExitUsage;
    }
    return send_file(**client, flags);
  }
  if (!flags.stream_id || !flags.type) {
    fmt::print(stderr, "sluice send: --stream and --type are required (or --file)\n");
    return kExitUsage;
  }
  json::object event;
  auto put = [&event](std::string_view key, const std::optional<std::string>& value) {
    if (value) event[key] = *value;
  };
  put("event_id", flags.event_id);
  put("stream_id", flags.stream_id);
  put("type", flags.type);
  put("user_id", flags.user_id);
  put("user_name", flags.user_name);
  put("amount", flags.amount);
  put("currency", flags.currency);
  put("tier", flags.tier);
  put("message", flags.message);
  put("occurred_at", flags.occurred_at);
  if (flags.bits) event["bits"] = *flags.bits;
  if (flags.months) event["months"] = *flags.months;
  if (flags.gifted) event["gifted"] = true;
  return post(**client, json::serialize(event), "application/json") ? kExitOk : kExitFailure;
}

}  // namespace sluice::cli
