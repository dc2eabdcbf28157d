#include "queue/dead_letter_store.h"

#include "storage/key_encoding.h"

namespace sluice::queue {

using storage::Table;

DeadLetterStore::DeadLetterStore(storage::Backend& backend, std::string name)
    : backend_(backend),
      name_(std::move(name)),
      key_prefix_(storage::key_prefix({name_})),
      count_key_(storage::key_prefix({"queue", name_}) + "depth") {}

void DeadLetterStore::add(storage::Mutation& mutation, std::string_view id,
                          std::string_view record) const {
  mutation.put(Table::kDeadLetter, key(id), record);
  mutation.add(count_key_, 1);
  if (mirror_ != nullptr) mirror_->add(mutation, record);
}

void DeadLetterStore::add_new(storage::Mutation& mutation, std::string_view id,
                              std::string_view record) const {
  mutation.insert(Table::kDeadLetter, key(id), record);
  mutation.add(count_key_, 1);
  if (mirror_ != nullptr) mirror_->add(mutation, record);
}

Result<std::optional<DeadLetter>> DeadLetterStore::get(std::string_view id) {
  SLUICE_ASSIGN_OR_RETURN(auto record, backend_.get(Table::kDeadLetter, key(id)));
  if (!record) return std::optional<DeadLetter>();
  return std::optional<DeadLetter>(DeadLetter{std::string(id), std::move(*record)});
}

Result<std::vector<DeadLetter>> DeadLetterStore::list(std::optional<std::string> after,
                                                      std::size_t limit) {
  storage::ScanOptions scan;
  scan.prefix = key_prefix_;
  if (after) scan.after = key_prefix_ + *after;
  scan.limit = limit;
  SLUICE_ASSIGN_OR_RETURN(auto entries, backend_.scan(Table::kDeadLetter, scan));
  std::vector<DeadLetter> letters;
  letters.reserve(entries.size());
  for (auto& entry : entries) {
    letters.push_back({entry.key.substr(key_prefix_.size()), std::move(entry.value)});
  }
  return letters;
}

void DeadLetterStore::remove(storage::Mutation& mutation, std::string_view id) const {
  mutation.erase(Table::kDeadLetter, key(id));
  mutation.add(count_key_, -1);
}

Result<std::int64_t> DeadLetterStore::count() { return backend_.counter(count_key_); }

}  // namespace sluice::queue
