#pragma once

// Helpers for building ordered keys. Key parts are joined with a 0 byte, which no part may hold
// (ids and names are validated to a printable alphabet before they reach storage); numbers are
// big-endian so that bytewise order is numeric order.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sluice::storage {

inline constexpr char kKeySeparator = '\0';

inline void append_big_endian(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((value >> shift) & 0xff));
}

// Reads 8 big-endian bytes at `bytes`; the caller checks the size.
inline std::uint64_t read_big_endian(std::string_view bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

// "a\0b\0" for {"a", "b"}: a prefix that matches exactly the keys under those parts.
inline std::string key_prefix(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (auto part : parts) {
    key.append(part);
    key.push_back(kKeySeparator);
  }
  return key;
}

}  // namespace sluice::storage
