#include "storage/mutation.h"

#include <cstring>

#include "sluice/status.h"
#include "storage/document_patch.h"

namespace sluice::storage {

void Mutation::put(Table table, std::string_view key, std::string_view value) {
  append({Kind::kPut, table, std::string(key), std::string(value)});
}

void Mutation::erase(Table table, std::string_view key) {
  append({Kind::kErase, table, std::string(key), {}});
}

void Mutation::insert(Table table, std::string_view key, std::string_view value) {
  SLUICE_CHECK(table != Table::kCounters && table != Table::kDocuments);
  conditional_ = true;
  append({Kind::kInsert, table, std::string(key), std::string(value)});
}

void Mutation::expect(Table table, std::string_view key, std::string_view value) {
  SLUICE_CHECK(table != Table::kCounters && table != Table::kDocuments);
  conditional_ = true;
  append({Kind::kExpect, table, std::string(key), std::string(value)});
}

void Mutation::add(std::string_view counter, std::int64_t delta) {
  append({Kind::kAdd, Table::kCounters, std::string(counter), encode_counter(delta)});
}

void Mutation::append(Operation&& operation) {
  auto* last = operation.table == Table::kCounters    ? &last_add_
               : operation.table == Table::kDocuments ? &last_patch_
                                                      : nullptr;
  if (last != nullptr) {
    if (operation.kind != Kind::kAdd && operation.kind != Kind::kPatch) {
      last->erase(operation.key);
    } else if (auto found = last->find(operation.key); found == last->end()) {
      last->emplace(operation.key, operations_.size());
    } else if (std::string& folded = operations_[found->second].value;
               operation.kind == Kind::kAdd) {
      folded = encode_counter(decode_counter(folded) + decode_counter(operation.value));
      return;
    } else {
      const std::size_t before = folded.size();
      if (append_encoded_patch(folded, operation.value)) {
        byte_size_ += folded.size() - before;
        return;
      }
      found->second = operations_.size();  // not a patch's encoding: kept apart
    }
  }
  byte_size_ += operation.key.size() + operation.value.size();
  operations_.push_back(std::move(operation));
}

void Mutation::patch(std::string_view document_key, const DocumentPatch& patch) {
  append({Kind::kPatch, Table::kDocuments, std::string(document_key), patch.encode()});
}

void Mutation::absorb(Mutation&& other) {
  if (!fence_) fence_ = other.fence_;
  conditional_ = conditional_ || other.conditional_;
  if (operations_.empty()) {
    operations_ = std::move(other.operations_);
    byte_size_ = other.byte_size_;
    last_add_ = std::move(other.last_add_);
    last_patch_ = std::move(other.last_patch_);
  } else {
    for (auto& operation : other.operations_) append(std::move(operation));
  }
  other.operations_.clear();
  other.byte_size_ = 0;
  other.conditional_ = false;
  other.last_add_.clear();
  other.last_patch_.clear();
}

std::string encode_counter(std::int64_t value) {
  std::string bytes(8, '\0');
  auto bits = static_cast<std::uint64_t>(value);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((bits >> (8 * i)) & 0xff);
  return bytes;
}

std::int64_t decode_counter(std::string_view bytes) {
  SLUICE_CHECK(bytes.size() == 8);
  std::uint64_t bits = 0;
  for (int i = 7; i >= 0; --i) bits = (bits << 8) | static_cast<unsigned char>(bytes[i]);
  return static_cast<std::int64_t>(bits);
}

}  // namespace sluice::storage
