#pragma once

// Identifier generation, injected like the clock so that tests and replays are repeatable.

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "core/clock.h"

namespace sluice {

// Makes UUID version 7 strings ("01936d2c-8a4e-7f3b-9c1d-2e4f6a8b0c1d"): the first 48 bits are the
// clock's milliseconds, so ids made later sort later; the rest is random. Thread-safe.
class IdGenerator {
 public:
  // `seed` fixes the random part, for tests; the default draws it from the operating system.
  explicit IdGenerator(const Clock& clock);
  IdGenerator(const Clock& clock, std::uint64_t seed);

  std::string next();

 private:
  const Clock& clock_;
  std::mutex mutex_;
  std::mt19937_64 random_;  // guarded by mutex_
};

}  // namespace sluice
