#pragma once

// Time, injected. Everything that reads the time takes a Clock&, so tests can drive time by hand
// and durable state never depends on when a test happened to run.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Microseconds since the Unix epoch, UTC. The one time representation stored on disk.
using Micros = std::int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Micros now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Micros now() const override;
};

// A clock that moves only when told to. Safe to read from any thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros start) : now_(start) {}
  Micros now() const override { return now_.load(std::memory_order_relaxed); }
  void advance(Micros by) { now_.fetch_add(by, std::memory_order_relaxed); }
  void set(Micros to) { now_.store(to, std::memory_order_relaxed); }

 private:
  std::atomic<Micros> now_;
};

// RFC 3339 in UTC with millisecond precision: "2026-11-24T01:02:03.456Z".
std::string format_rfc3339(Micros time);

// Parses an RFC 3339 date-time ("2026-11-24T01:02:03Z", "…03.5+01:00"); false if it is not one
// or if it falls outside the years 0001–9999 in UTC.
// Fractions finer than a microsecond are truncated.
bool parse_rfc3339(std::string_view text, Micros& out);

}  // namespace sluice
