#pragma once

// StreamStore: the pipeline's documents, partitioned by stream_id.
//
//   stats  — one document per stream (id = stream_id): counters, money totals per currency in
//            minor units (rendered as decimal strings by stats_view), last_event_at, updated_at.
//   events — one document per event (id = event_id): the event, received_at, instance_id.
//   events-by-time — an index of `events` by received time, for newest-first listing: the key
//            names the event, the value holds its type (for filtering).

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "docs/document_container.h"
#include "pipeline/event.h"
#include "queue/outbox.h"
#include "sluice/status.h"
#include "storage/backend.h"

namespace sluice::pipeline {

struct EventsPage {
  std::vector<boost::json::object> items;
  std::optional<std::string> next_cursor;
};

class StreamStore {
 public:
  explicit StreamStore(storage::Backend& backend);

  // From now on every commit that logs or counts an event also adds an entry to `outbox`: the
  // event's document when logging, {"stream_id":…} when counting. Set before events are
  // processed; `outbox` must outlive the store.
  void mirror_to(const queue::Outbox& outbox) { mirror_ = &outbox; }

  // Adds to `mutation` the counting of `event` in its stream's stats, unless that event_id was
  // counted before (by any instance, ever). `now` stamps updated_at.
  Status count(storage::Mutation& mutation, const EventFacts& event, const std::string& now);
  // Adds the event's documents to `mutation`.
  Status log(storage::Mutation& mutation, const EventFacts& event, std::string_view event_json,
             Micros received_at, std::string_view instance_id);

  // The stats document as the API shows it (money as decimal strings); nullopt if never seen.
  Result<std::optional<boost::json::object>> stats_view(std::string_view stream_id);
  // Newest first; `type` filters when not empty.
  Result<EventsPage> events(std::string_view stream_id, std::string_view type, std::size_t limit,
                            std::optional<std::string> cursor);

 private:
  storage::Backend& backend_;
  docs::DocumentContainer stats_;
  docs::DocumentContainer events_;
  docs::DocumentContainer events_by_time_;
  const queue::Outbox* mirror_ = nullptr;
};

}  // namespace sluice::pipeline
