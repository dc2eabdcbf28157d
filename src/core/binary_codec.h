#pragma once

// Compact binary encoding for stored records: unsigned varints (LEB128), zigzag signed varints,
// and length-prefixed byte strings. A Reader never reads past its input; a short or malformed
// input makes it fail, and callers turn that into a Corruption status.

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

class BinaryWriter {
 public:
  explicit BinaryWriter(std::string& out) : out_(out) {}
  void byte(std::uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void varint(std::uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }
  void signed_varint(std::int64_t value) {
    varint((static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63));
  }
  void bytes(std::string_view value) {
    varint(value.size());
    out_.append(value);
  }

 private:
  std::string& out_;
};

class BinaryReader {
 public:
  explicit BinaryReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return in_.empty(); }

  std::uint8_t byte() {
    if (in_.empty()) return fail<std::uint8_t>();
    const auto value = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return value;
  }
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return fail<std::uint64_t>();
      const auto part = static_cast<std::uint8_t>(in_[0]);
      in_.remove_prefix(1);
      value |= static_cast<std::uint64_t>(part & 0x7f) << shift;
      if ((part & 0x80) == 0) return value;
    }
    return fail<std::uint64_t>();
  }
  std::int64_t signed_varint() {
    const std::uint64_t raw = varint();
    return static_cast<std::int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
  }
  std::string_view bytes() {
    const std::uint64_t size = varint();
    if (!ok_ || size > in_.size()) return fail<std::string_view>();
    std::string_view value = in_.substr(0, size);
    in_.remove_prefix(size);
    return value;
  }

 private:
  template <typename T>
  T fail() {
    ok_ = false;
    in_ = {};
    return T{};
  }
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace sluice
