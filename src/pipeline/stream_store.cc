#include "pipeline/stream_store.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <boost/json.hpp>

#include "pipeline/money.h"
#include "storage/key_encoding.h"

namespace sluice::pipeline {

namespace json = boost::json;
using storage::DocumentPatch;

namespace {

// Marks an event_id as counted in stats; lives beside the queue's idempotency records.
std::string counted_key(std::string_view event_id) {
  return storage::key_prefix({"stats-counted"}) + std::string(event_id);
}

}  // namespace

StreamStore::StreamStore(storage::Backend& backend)
    : backend_(backend),
      stats_(backend, "stats", "/stream_id"),
      events_(backend, "events", "/stream_id"),
      events_by_time_(backend, "events-by-time", "/stream_id") {}

Status StreamStore::count(storage::Mutation& mutation, const EventFacts& event,
                          const std::string& now) {
  const std::string marker = counted_key(event.event_id);
  SLUICE_ASSIGN_OR_RETURN(auto counted, backend_.get(storage::Table::kIdempotency, marker));
  if (counted) return {};  // counted by an earlier instance of this event (a replay)
  mutation.put(storage::Table::kIdempotency, marker, "");

  DocumentPatch patch;
  patch.increment({"events"}, 1);
  if (event.type == "follower") {
    patch.increment({"followers"}, 1);
  } else if (event.type == "subscription") {
    patch.increment({"subscriptions"}, event.count);
    if (event.gifted) patch.increment({"gifted_subscriptions"}, event.count);
  } else if (event.type == "donation") {
    patch.increment({"donations", "count"}, 1);
    patch.increment({"donations", "totals", event.currency}, event.amount_minor);
  } else if (event.type == "cheer") {
    patch.increment({"bits"}, event.bits);
  }
  patch.maximum({"last_event_at"}, json::string(event.occurred_at.value_or(now)));
  patch.assign({"updated_at"}, json::string(now));
  if (mirror_ != nullptr) {
    // Stream ids need no JSON escaping (is_valid_id).
    mirror_->add(mutation, fmt::format(FMT_COMPILE(R"({{"stream_id":"{}"}})"), event.stream_id));
  }
  return stats_.patch(mutation, event.stream_id, event.stream_id, std::move(patch));
}

Status StreamStore::log(storage::Mutation& mutation, const EventFacts& event,
                        std::string_view event_json, Micros received_at,
                        std::string_view instance_id) {
  // The event text is kept as it was accepted, unknown fields and number spellings included.
  // Compiled formats: this runs for every event, and parsing a format string each time showed in
  // the partition's profile.
  const std::string document = fmt::format(
      FMT_COMPILE(
          R"({{"id":"{}","stream_id":"{}","received_at":"{}","instance_id":"{}","event":{}}})"),
      event.event_id, event.stream_id, format_rfc3339(received_at), instance_id, event_json);
  SLUICE_RETURN_IF_ERROR(events_.upsert_text(mutation, event.stream_id, event.event_id, document));
  if (mirror_ != nullptr) mirror_->add(mutation, document);
  // The index entry names the event by its key and carries only what listing filters on. The
  // four event type names need no escaping; anything else an orchestration was started with does.
  const std::string entry = is_event_type(event.type)
                                ? fmt::format(FMT_COMPILE(R"({{"type":"{}"}})"), event.type)
                                : json::serialize(json::object{{"type", event.type}});
  return events_by_time_.upsert_text(
      mutation, event.stream_id, fmt::format(FMT_COMPILE("{:020}-{}"), received_at, event.event_id),
      entry);
}

Result<std::optional<json::object>> StreamStore::stats_view(std::string_view stream_id) {
  SLUICE_ASSIGN_OR_RETURN(auto stored, stats_.read(stream_id, stream_id));
  if (!stored) return stored;
  json::object view;
  view["stream_id"] = stream_id;
  for (const char* counter :
       {"followers", "subscriptions", "gifted_subscriptions", "bits", "events"}) {
    const auto* value = stored->if_contains(counter);
    view[counter] = value != nullptr && value->is_int64() ? value->get_int64() : 0;
  }
  json::object totals;
  std::int64_t donations = 0;
  if (const auto* stored_donations = stored->if_contains("donations")) {
    if (const auto* count = stored_donations->as_object().if_contains("count")) {
      donations = count->as_int64();
    }
    if (const auto* stored_totals = stored_donations->as_object().if_contains("totals")) {
      for (const auto& [currency, minor] : stored_totals->as_object()) {
        const std::optional<int> exponent = currency_exponent(currency);
        if (!exponent || !minor.is_int64()) {
          return corruption(
              fmt::format("stats of {}: bad total for {}", stream_id, std::string_view(currency)));
        }
        totals[currency] = format_amount(minor.get_int64(), *exponent);
      }
    }
  }
  view["donations"] = json::object{{"count", donations}, {"totals", std::move(totals)}};
  for (const char* time : {"last_event_at", "updated_at"}) {
    const auto* value = stored->if_contains(time);
    view[time] = value != nullptr ? *value : json::value(nullptr);
  }
  return std::optional<json::object>(std::move(view));
}

Result<EventsPage> StreamStore::events(std::string_view stream_id, std::string_view type,
                                       std::size_t limit, std::optional<std::string> cursor) {
  EventsPage page;
  docs::ListOptions options{std::move(cursor), std::max<std::size_t>(limit, 1), true};
  // A type filter may skip documents: read on until the page is full or the stream ends, but
  // look at a bounded number per call and hand back a cursor.
  std::size_t examined = 0;
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(docs::Page batch, events_by_time_.list(stream_id, options));
    for (std::size_t i = 0; i < batch.items.size(); ++i) {
      ++examined;
      options.cursor = batch.ids[i];
      // Entries written before the index was slim hold the whole document.
      const auto* old_event = batch.items[i].if_contains("event");
      const auto* event_type = old_event != nullptr ? old_event->as_object().if_contains("type")
                                                    : batch.items[i].if_contains("type");
      if (!type.empty() && (event_type == nullptr || event_type->as_string() != type)) continue;
      const std::string& index_id = batch.ids[i];  // "<received_at, 20 digits>-<event id>"
      SLUICE_ASSIGN_OR_RETURN(auto document,
                              events_.read(stream_id, std::string_view(index_id).substr(21)));
      if (!document) continue;  // purged since
      page.items.push_back(std::move(*document));
      if (page.items.size() == limit) {
        if (i + 1 < batch.items.size() || batch.next_cursor) page.next_cursor = options.cursor;
        return page;
      }
    }
    if (!batch.next_cursor) return page;  // the stream's oldest event has been read
    if (examined >= 10'000) {
      page.next_cursor = options.cursor;
      return page;
    }
  }
}

}  // namespace sluice::pipeline
