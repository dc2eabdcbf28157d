#include "queue/outbox.h"

#include <fmt/format.h>

#include <algorithm>

#include "storage/key_encoding.h"
#include "storage/mutation.h"

namespace sluice::queue {
namespace {

using storage::Table;

// '~' is in no queue name: outbox keys never share a prefix with an intake queue's.
constexpr std::string_view kKeyPart = "~outbox";

// The time a UUIDv7 was made: its first 48 bits are Unix milliseconds.
Micros uuid7_time(std::string_view id) {
  std::uint64_t millis = 0;
  int digits = 0;
  for (const char c : id) {
    if (c == '-') continue;
    if (digits == 12) break;
    const int value = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (value < 0) return 0;
    millis = millis * 16 + static_cast<std::uint64_t>(value);
    ++digits;
  }
  return static_cast<Micros>(millis) * 1000;
}

// A UUIDv7's text up to the end of its time (48 bits of Unix milliseconds): every id made at
// `time` or later sorts after it.
std::string uuid7_time_prefix(Micros time) {
  const auto millis = static_cast<std::uint64_t>(std::max<Micros>(time, 0) / 1000);
  return fmt::format("{:08x}-{:04x}", millis >> 16, millis & 0xffff);
}

}  // namespace

Outbox::Outbox(storage::Backend& backend, const Clock& clock, std::string name)
    : backend_(backend),
      clock_(clock),
      ids_(clock),
      name_(std::move(name)),
      key_prefix_(storage::key_prefix({kKeyPart, name_})),
      depth_key_(storage::key_prefix({kKeyPart, name_}) + "depth") {}

void Outbox::add(storage::Mutation& mutation, std::string_view payload) const {
  mutation.put(Table::kQueue, key_prefix_ + ids_.next(), payload);
  mutation.add(depth_key_, 1);
}

Result<std::vector<OutboxEntry>> Outbox::oldest(std::size_t limit) {
  storage::ScanOptions scan;
  scan.prefix = key_prefix_;
  scan.limit = limit;
  std::lock_guard lock(scan_mutex_);
  // From the start when it is time, and when the clock stepped back: ids made since then sort
  // below the floor.
  if (const Micros now = clock_.now();
      now >= next_full_scan_ || now < next_full_scan_ - kFullScanEvery) {
    next_full_scan_ = now + kFullScanEvery;
  } else {
    scan.after = floor_;
  }
  SLUICE_ASSIGN_OR_RETURN(auto rows, backend_.scan(Table::kQueue, scan));
  if (!rows.empty()) {
    const Micros oldest_added = uuid7_time(rows.front().key.substr(key_prefix_.size()));
    floor_ = key_prefix_ + uuid7_time_prefix(oldest_added - kCommitMargin);
  }
  std::vector<OutboxEntry> entries;
  entries.reserve(rows.size());
  for (auto& row : rows) {
    std::string id = row.key.substr(key_prefix_.size());
    const Micros added_at = uuid7_time(id);
    entries.push_back({std::move(id), std::move(row.value), added_at});
  }
  return entries;
}

void Outbox::remove(storage::Mutation& mutation, const OutboxEntry& entry) const {
  mutation.erase(Table::kQueue, key_prefix_ + entry.id);
  mutation.add(depth_key_, -1);
}

Result<std::int64_t> Outbox::depth() { return backend_.counter(depth_key_); }

}  // namespace sluice::queue
