#include "storage/mutation.h"

#include <cstring>

#include "sluice/status.h"
#include "storage/document_patch.h"

namespace sluice::storage {

void Mutation::put(Table table, std::string_view key, std::string_view value) {
  byte_size_ += key.size() + value.size();
  operations_.push_back({Kind::kPut, table, std::string(key), std::string(value)});
}

void Mutation::erase(Table table, std::string_view key) {
  byte_size_ += key.size();
  operations_.push_back({Kind::kErase, table, std::string(key), {}});
}

void Mutation::add(std::string_view counter, std::int64_t delta) {
  byte_size_ += counter.size() + 8;
  operations_.push_back(
      {Kind::kAdd, Table::kCounters, std::string(counter), encode_counter(delta)});
}

void Mutation::patch(std::string_view document_key, const DocumentPatch& patch) {
  std::string encoded = patch.encode();
  byte_size_ += document_key.size() + encoded.size();
  operations_.push_back(
      {Kind::kPatch, Table::kDocuments, std::string(document_key), std::move(encoded)});
}

void Mutation::absorb(Mutation&& other) {
  byte_size_ += other.byte_size_;
  if (operations_.empty()) {
    operations_ = std::move(other.operations_);
  } else {
    operations_.insert(operations_.end(), std::make_move_iterator(other.operations_.begin()),
                       std::make_move_iterator(other.operations_.end()));
  }
  other.operations_.clear();
  other.byte_size_ = 0;
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
