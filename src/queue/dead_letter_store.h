#pragma once

// DeadLetterStore: the records of messages whose processing gave up, kept until replayed or
// deleted. A record is added inside the Mutation that records the failure, so an event is never
// both failed and missing from the store.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "queue/outbox.h"
#include "sluice/status.h"
#include "storage/backend.h"

namespace sluice::queue {

struct DeadLetter {
  std::string id;
  std::string record;  // JSON text
};

class DeadLetterStore {
 public:
  // `backend` must outlive the store.
  DeadLetterStore(storage::Backend& backend, std::string name);

  const std::string& name() const { return name_; }

  // From now on every record added is also added to `outbox` (in the same mutation), to be
  // mirrored elsewhere. Set before records are added; `outbox` must outlive the store.
  void mirror_to(const Outbox& outbox) { mirror_ = &outbox; }

  // Adds a record under a new `id` when `mutation` commits.
  void add(storage::Mutation& mutation, std::string_view id, std::string_view record) const;
  // add() of an id that must be new: if a record `id` exists when `mutation` commits, the commit
  // fails with AlreadyExists and changes nothing. For a source that may record one letter twice.
  void add_new(storage::Mutation& mutation, std::string_view id, std::string_view record) const;

  Result<std::optional<DeadLetter>> get(std::string_view id);
  // Up to `limit` records in id order, after `after` when given.
  Result<std::vector<DeadLetter>> list(std::optional<std::string> after, std::size_t limit);
  // Adds the removal of a record known to exist to `mutation`.
  void remove(storage::Mutation& mutation, std::string_view id) const;
  // Where record `id` is kept in Table::kDeadLetter, for a change that rests on its value.
  std::string key(std::string_view id) const { return key_prefix_ + std::string(id); }
  Result<std::int64_t> count();

 private:
  storage::Backend& backend_;
  const std::string name_;
  const std::string key_prefix_;
  const std::string count_key_;
  const Outbox* mirror_ = nullptr;
};

}  // namespace sluice::queue
