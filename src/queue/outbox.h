#pragma once

// Outbox: what must reach a system outside sluice (an Azure queue, Cosmos DB), written in the
// same Mutation as the change it mirrors, so that a change and its message commit together or
// not at all. A sender takes the oldest entries, delivers them, and removes each once delivered:
// nothing committed is lost. A sender that dies between a delivery and the removal delivers that
// entry again, so what it delivers carries an id the receiver can recognise.
//
// Entries are ordered by when they were added (their ids are UUIDv7); the depth is a counter.
//
// Removed entries stay in the store as tombstones until compaction, and a scan from the start
// steps over every one: under a steady flow that grows with each round. So oldest() starts at
// entries added kCommitMargin before the oldest one its last scan found (everything older was
// gone then, and ids are taken shortly before their commit). An entry whose commit took longer
// than that is found by a scan from the start, one every kFullScanEvery (and at once after the
// clock stepped back): it may leave late, never not at all.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "sluice/status.h"
#include "storage/backend.h"

namespace sluice::queue {

struct OutboxEntry {
  std::string id;
  std::string payload;
  Micros added_at = 0;
};

class Outbox {
 public:
  static constexpr Micros kCommitMargin = 1'000'000;
  static constexpr Micros kFullScanEvery = 10'000'000;

  // `backend` and `clock` must outlive the outbox.
  Outbox(storage::Backend& backend, const Clock& clock, std::string name);

  const std::string& name() const { return name_; }

  // Adds `payload` as a new entry when `mutation` commits.
  void add(storage::Mutation& mutation, std::string_view payload) const;
  // Up to `limit` of the oldest entries, oldest first.
  Result<std::vector<OutboxEntry>> oldest(std::size_t limit);
  // Adds the removal of an entry read by oldest() to `mutation`.
  void remove(storage::Mutation& mutation, const OutboxEntry& entry) const;
  Result<std::int64_t> depth();

 private:
  storage::Backend& backend_;
  const Clock& clock_;
  mutable IdGenerator ids_;
  std::mutex scan_mutex_;
  std::optional<std::string> floor_;  // guarded by scan_mutex_: scans start after it
  Micros next_full_scan_ = 0;         // guarded by scan_mutex_
  const std::string name_;
  const std::string key_prefix_;
  const std::string depth_key_;
};

}  // namespace sluice::queue
