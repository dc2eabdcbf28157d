#include "core/ids.h"

#include <array>

namespace sluice {

IdGenerator::IdGenerator(const Clock& clock) : IdGenerator(clock, std::random_device{}()) {}

IdGenerator::IdGenerator(const Clock& clock, std::uint64_t seed) : clock_(clock), random_(seed) {}

std::string IdGenerator::next() {
  const auto millis = static_cast<std::uint64_t>(clock_.now() / 1000);
  std::uint64_t high_random, low_random;
  {
    std::lock_guard lock(mutex_);
    high_random = random_();
    low_random = random_();
  }
  // Layout (RFC 9562): 48 bits time, 4 bits version 7, 12 random, 2 bits variant 10, 62 random.
  const std::uint64_t high = (millis << 16) | 0x7000 | (high_random & 0x0fff);
  const std::uint64_t low = (low_random & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;

  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(36, '-');
  size_t out = 0;
  auto put_hex = [&](std::uint64_t value, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (out == 8 || out == 13 || out == 18 || out == 23) ++out;  // keep the dashes
      id[out++] = kHex[(value >> (i * 4)) & 0xf];
    }
  };
  put_hex(high, 16);
  put_hex(low, 16);
  return id;
}

}  // namespace sluice
