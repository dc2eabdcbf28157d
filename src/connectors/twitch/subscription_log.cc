#include "connectors/twitch/subscription_log.h"

#include <boost/json.hpp>

#include "core/clock.h"
#include "storage/mutation.h"

namespace sluice::twitch {
namespace {

namespace json = boost::json;

constexpr std::string_view kKeyPrefix = "twitch-subscription/";

std::string key_of(std::string_view id) { return std::string(kKeyPrefix).append(id); }

std::string_view string_member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string_view(value->get_string())
                                                : std::string_view();
}

}  // namespace

Status SubscriptionLog::load() {
  storage::ScanOptions options{.prefix = std::string(kKeyPrefix), .limit = 1000};
  std::lock_guard lock(mutex_);
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(auto entries, backend_.scan(storage::Table::kMeta, options));
    for (const auto& entry : entries) {
      boost::system::error_code error;
      json::value record = json::parse(entry.value, error);
      if (error || !record.is_object()) {
        return corruption("a stored Twitch subscription record is not a JSON object");
      }
      records_[entry.key.substr(kKeyPrefix.size())] = std::move(record.get_object());
    }
    if (entries.size() < options.limit) return {};
    options.after = entries.back().key;
  }
}

bool SubscriptionLog::note(const json::object& subscription, std::string_view message_type,
                           std::string_view sent_at_text) {
  // Twitch's times have nanoseconds; sluice's have milliseconds and compare as text.
  Micros sent = 0;
  const std::string sent_at =
      parse_rfc3339(sent_at_text, sent) ? format_rfc3339(sent) : std::string(sent_at_text);
  const std::string_view id = string_member(subscription, "id");
  const std::string_view status = string_member(subscription, "status");
  std::lock_guard lock(mutex_);
  auto found = records_.find(id);
  const bool is_new = found == records_.end();
  if (is_new) {
    if (records_.size() >= kMaxSubscriptions) return false;
    json::object record{{"id", id},
                        {"type", string_member(subscription, "type")},
                        {"version", string_member(subscription, "version")},
                        {"condition", json::object()},
                        {"status", status},
                        {"status_at", sent_at},
                        {"notifications", 0},
                        {"first_message_at", sent_at},
                        {"revoked_at", nullptr},
                        {"revocation_reason", nullptr}};
    if (const json::value* condition = subscription.if_contains("condition");
        condition != nullptr && condition->is_object()) {
      record["condition"] = *condition;
    }
    found = records_.emplace(std::string(id), std::move(record)).first;
  }
  json::object& record = found->second;
  // A message older than the one that set the status (a notification Twitch sent again after
  // the revocation) does not set it back.
  const bool status_changed =
      string_member(record, "status") != status && sent_at >= string_member(record, "status_at");
  if (status_changed) {
    record["status"] = status;
    record["status_at"] = sent_at;
  }
  if (sent_at >= string_member(record, "last_message_at")) {
    record["last_message_at"] = sent_at;
    record["last_message_type"] = message_type;
  }
  if (message_type == "notification") {
    const json::value* count = record.if_contains("notifications");
    record["notifications"] = (count != nullptr && count->is_int64() ? count->get_int64() : 0) + 1;
  } else if (message_type == "revocation") {
    // Twitch names the reason in the status: authorization_revoked, user_removed,
    // notification_failures_exceeded, version_removed.
    record["revoked_at"] = sent_at;
    record["revocation_reason"] = status;
  }
  return is_new || status_changed || message_type != "notification";
}

Status SubscriptionLog::store(std::string_view id) {
  // One store at a time, so that the last to commit wrote the newest state.
  std::lock_guard storing(store_mutex_);
  storage::Mutation mutation;
  {
    std::lock_guard lock(mutex_);
    auto found = records_.find(id);
    if (found == records_.end()) return {};
    mutation.put(storage::Table::kMeta, key_of(id), json::serialize(found->second));
  }
  return backend_.commit(mutation);
}

json::array SubscriptionLog::list() const {
  std::lock_guard lock(mutex_);
  json::array records;
  records.reserve(records_.size());
  for (const auto& [id, record] : records_) records.push_back(record);
  return records;
}

}  // namespace sluice::twitch
