#pragma once

// EventSubApi: Twitch's EventSub webhook transport as sluice's routes.
//
//   POST /api/twitch/eventsub     open: each message authenticates itself by its signature
//   GET  /api/twitch/subscriptions  scope read: SubscriptionLog::list()
//
// Every message is checked before anything else — its signature (eventsub.h) and the age of its
// timestamp — and refused with 403 otherwise, changing nothing. A verification is answered with
// its challenge, a revocation recorded, and a notification of a type sluice counts queued as its
// event, answered 2xx only once durably queued (as POST /api/events). An authentic notification
// that cannot become an event is kept as a dead letter and answered 2xx: Twitch would otherwise
// send it again and again and then revoke the subscription. Twitch sends a message
// again until it gets a 2xx; the copy has the same message id, which is the event's id, and so
// counts once.

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>
#include <vector>

#include "connectors/twitch/eventsub.h"
#include "connectors/twitch/subscription_log.h"
#include "connectors/twitch/twitch_settings.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/logging.h"
#include "http/metrics.h"
#include "http/route_table.h"
#include "queue/dead_letter_store.h"
#include "queue/intake_queue.h"

namespace sluice::twitch {

class EventSubApi {
 public:
  // Every reference must outlive the object; `settings.secret` must be set.
  EventSubApi(const TwitchSettings& settings, queue::IntakeQueue& intake,
              const queue::DeadLetterStore& dead_letters, storage::Backend& backend,
              SubscriptionLog& subscriptions, http::Metrics& metrics, const Clock& clock,
              IdGenerator& ids);
  ~EventSubApi();

  std::vector<http::Route> routes();

  // Prometheus text of this connector's counters.
  std::string metrics_text() const;

  // Messages larger than this are refused with 413 (Twitch's are a few kilobytes).
  static constexpr std::size_t kMaxBodyBytes = std::size_t{64} * 1024;

  // Why an authentic notification cannot become an event.
  struct Unmappable {
    std::string code;
    std::string field;
    std::string message;
  };

 private:
  enum class Refusal { kSignature, kTimestamp, kMalformed, kTooLarge };
  enum class Kind { kNotification, kVerification, kRevocation };
  struct Counters {
    std::array<std::atomic<std::uint64_t>, 3> messages{};  // by Kind
    std::array<std::atomic<std::uint64_t>, 4> refused{};   // by Refusal
    std::atomic<std::uint64_t> queued{0};                  // notifications queued as events
    std::atomic<std::uint64_t> duplicates{0};              // of those, sent again
    std::atomic<std::uint64_t> not_counted{0};             // notifications acknowledged only
    std::atomic<std::uint64_t> dead_lettered{0};           // notifications kept as dead letters
  };

  boost::asio::awaitable<http::Response> post(http::Request& request);
  http::Response refuse(Refusal why, http::beast_http::status status, std::string_view code,
                        std::string_view field, std::string_view message);
  boost::asio::awaitable<http::Response> notification(std::string_view message_id,
                                                      std::string_view sent_at,
                                                      const boost::json::object& subscription,
                                                      const boost::json::object& body,
                                                      std::string_view raw);
  // Keeps an authentic notification that cannot become an event as a dead letter; 200.
  boost::asio::awaitable<http::Response> dead_letter(std::string_view message_id,
                                                     std::string_view sent_at,
                                                     const boost::json::object& subscription,
                                                     std::string_view raw, const Unmappable& why);
  boost::asio::awaitable<http::Response> list(http::Request& request,
                                              http::PathParameters parameters);
  // Stores the subscription's record off the HTTP thread, when note() asks for it.
  boost::asio::awaitable<Status> record(const boost::json::object& subscription,
                                        std::string_view message_type, std::string_view sent_at);

  const TwitchSettings settings_;
  queue::IntakeQueue& intake_;
  const queue::DeadLetterStore& dead_letters_;
  storage::Backend& backend_;
  SubscriptionLog& subscriptions_;
  http::Metrics& metrics_;
  const Clock& clock_;
  IdGenerator& ids_;
  Counters counters_;
  boost::asio::thread_pool storing_{1};  // subscription records, written off the HTTP threads
  LogEvery refusals_{std::chrono::seconds(1)};
};

}  // namespace sluice::twitch
