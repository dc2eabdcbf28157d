#include "storage/memory/memory_backend.h"

#include <fmt/format.h>

#include "storage/document_patch.h"

namespace sluice::storage {

Result<std::uint64_t> MemoryBackend::apply(const Mutation& mutation) {
  std::lock_guard lock(mutex_);
  Undo undo;
  for (const auto& operation : mutation.operations()) {
    if (Status applied = apply_operation(operation, undo); !applied.ok()) {
      roll_back(undo);  // all or nothing
      return applied;
    }
  }
  unsynced_.push_back(std::move(undo));
  return ++applied_;
}

Status MemoryBackend::apply_operation(const Mutation::Operation& operation, Undo& undo) {
  Rows& table = rows(operation.table);
  auto found = table.find(operation.key);
  std::optional<std::string> before;
  if (found != table.end()) before = found->second;

  std::optional<std::string> after;
  switch (operation.kind) {
    case Mutation::Kind::kPut:
      after = operation.value;
      break;
    case Mutation::Kind::kExpect:
      if (before != operation.value) {
        return failed_precondition("a value the commit expects has changed");
      }
      return {};
    case Mutation::Kind::kInsert:
      if (before) return already_exists("a key the commit inserts holds a value already");
      after = operation.value;
      break;
    case Mutation::Kind::kErase:
      break;
    case Mutation::Kind::kAdd: {
      if (operation.value.size() != 8 || (before && before->size() != 8)) {
        return corruption(fmt::format("counter {} is not 8 bytes", operation.key));
      }
      // Wraps around as RocksBackend's merge operator does: unsigned arithmetic, no overflow.
      const auto base = static_cast<std::uint64_t>(before ? decode_counter(*before) : 0);
      after = encode_counter(static_cast<std::int64_t>(
          base + static_cast<std::uint64_t>(decode_counter(operation.value))));
      break;
    }
    case Mutation::Kind::kPatch: {
      auto merged = apply_patches(before ? std::string_view(*before) : std::string_view(),
                                  {std::string_view(operation.value)});
      if (!merged.ok()) {
        return corruption(
            fmt::format("patching document {}: {}", operation.key, merged.status().message()));
      }
      after = std::move(merged).value();
      break;
    }
  }
  undo.before.emplace_back(std::pair(operation.table, operation.key), std::move(before));
  if (after) {
    table.insert_or_assign(operation.key, std::move(*after));
  } else if (found != table.end()) {
    table.erase(found);
  }
  return {};
}

void MemoryBackend::roll_back(Undo& undo) {
  for (auto it = undo.before.rbegin(); it != undo.before.rend(); ++it) {
    auto& [where, before] = *it;
    Rows& table = rows(where.first);
    if (before) {
      table.insert_or_assign(where.second, std::move(*before));
    } else {
      table.erase(where.second);
    }
  }
}

std::uint64_t MemoryBackend::applied() {
  std::lock_guard lock(mutex_);
  return applied_;
}

Status MemoryBackend::wait_durable(std::uint64_t ticket) {
  std::lock_guard lock(mutex_);
  if (ticket > applied_) {
    return invalid_argument(fmt::format("ticket {} was never handed out", ticket));
  }
  // One sync covers every commit applied before it, as a write-ahead log's does.
  durable_ = applied_;
  unsynced_.clear();
  return {};
}

std::size_t MemoryBackend::lose_unsynced() {
  std::lock_guard lock(mutex_);
  const std::size_t lost = unsynced_.size();
  for (auto it = unsynced_.rbegin(); it != unsynced_.rend(); ++it) roll_back(*it);
  unsynced_.clear();
  applied_ = durable_;
  return lost;
}

Result<std::optional<std::string>> MemoryBackend::get(Table table, std::string_view key) {
  std::lock_guard lock(mutex_);
  const Rows& found_in = rows(table);
  auto found = found_in.find(key);
  if (found == found_in.end()) return std::optional<std::string>();
  return std::optional<std::string>(found->second);
}

Result<std::vector<std::optional<std::string>>> MemoryBackend::get_many(
    Table table, std::span<const std::string> keys) {
  std::lock_guard lock(mutex_);
  const Rows& found_in = rows(table);
  std::vector<std::optional<std::string>> values(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto found = found_in.find(keys[i]);
    if (found != found_in.end()) values[i] = found->second;
  }
  return values;
}

Result<std::vector<Entry>> MemoryBackend::scan(Table table, const ScanOptions& options) {
  std::lock_guard lock(mutex_);
  const Rows& in = rows(table);
  const auto first = in.lower_bound(options.prefix);  // the prefix's range starts here
  auto in_prefix = [&](const std::string& key) { return key.starts_with(options.prefix); };
  std::vector<Entry> entries;
  if (!options.reverse) {
    auto it = first;
    if (options.after && *options.after >= options.prefix) it = in.upper_bound(*options.after);
    for (; it != in.end() && in_prefix(it->first) && entries.size() < options.limit; ++it) {
      entries.push_back({it->first, it->second});
    }
    return entries;
  }
  // Backwards from the end of the prefix's range, or from the last key before `after`.
  if (options.after && *options.after <= options.prefix) return entries;  // nothing before it
  auto it = first;
  while (it != in.end() && in_prefix(it->first)) ++it;
  if (options.after) {
    const auto at_after = in.lower_bound(*options.after);
    if (at_after != in.end() && (it == in.end() || at_after->first < it->first)) it = at_after;
  }
  while (it != first && entries.size() < options.limit) {
    --it;
    entries.push_back({it->first, it->second});
  }
  return entries;
}

}  // namespace sluice::storage
