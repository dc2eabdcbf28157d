#pragma once

// Effects: the durable writes of one activity attempt. They commit atomically with the attempt's
// completion, and only if it succeeds, so they happen exactly once however often the activity
// runs or the process restarts.
//
// Writes go to JSON documents in named containers, partitioned as Cosmos DB containers are: a
// document is found by its container, its partition key and its id (each 1 to 255 bytes, no NUL).
// sluice's own pipeline keeps its "stats" and "events" containers this way. Read documents back
// with Runtime::document().

#include <cstdint>
#include <string_view>

#include "sluice/status.h"

namespace sluice {

class Effects {
 public:
  // Creates or replaces a document; `json` must be a JSON object.
  virtual Status upsert(std::string_view container, std::string_view partition, std::string_view id,
                        std::string_view json) = 0;
  // Adds `delta` to the integer member `field` of a document, creating the document (with its
  // "id") and the member when missing. Increments from concurrent activities commute: none is
  // lost and none reads the document first. A sum beyond the int64 range stays at the limit.
  virtual Status increment(std::string_view container, std::string_view partition,
                           std::string_view id, std::string_view field, std::int64_t delta) = 0;
  // Removes a document; nothing happens if there is none.
  virtual Status erase(std::string_view container, std::string_view partition,
                       std::string_view id) = 0;

 protected:
  ~Effects() = default;
};

}  // namespace sluice
