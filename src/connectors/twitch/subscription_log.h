#pragma once

// SubscriptionLog: what sluice has seen of each EventSub subscription, for
// GET /api/twitch/subscriptions — its type, version and condition, its status, when its last
// message came and of which kind, how many notifications it brought, and when and why Twitch
// revoked it.
//
// A record is written to storage when its subscription is first seen and whenever its status
// changes (a verification, a revocation), so those survive a restart. The latest message's time
// and the count of notifications are kept in memory and written with the next such change: a
// notification costs no storage write of its own, and after a restart both may lag. Each node
// keeps its own log: where nodes share storage, each lists what it received. Thread-safe.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "sluice/status.h"
#include "storage/backend.h"

namespace sluice::twitch {

class SubscriptionLog {
 public:
  // `backend` must outlive the log.
  explicit SubscriptionLog(storage::Backend& backend) : backend_(backend) {}

  // Reads the stored records; call once, before anything else.
  Status load();

  // Notes a message of `message_type` ("notification", "revocation",
  // "webhook_callback_verification") about `subscription` (the body's `subscription` object,
  // whose id, type, version and status are strings) sent at `sent_at`. True when the record must
  // now be stored (store()): it is new, or its status changed.
  bool note(const boost::json::object& subscription, std::string_view message_type,
            std::string_view sent_at);

  // Writes the record of subscription `id` as it is now; blocks until durable.
  Status store(std::string_view id);

  // Every record, ordered by subscription id.
  boost::json::array list() const;

  // At most this many subscriptions are kept; messages of others are not recorded.
  static constexpr std::size_t kMaxSubscriptions = 10'000;

 private:
  storage::Backend& backend_;
  std::mutex store_mutex_;  // held by store(), outside mutex_
  mutable std::mutex mutex_;
  std::map<std::string, boost::json::object, std::less<>> records_;  // guarded by mutex_
};

}  // namespace sluice::twitch
