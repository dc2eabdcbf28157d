#pragma once

// Logging goes through spdlog's default logger, to stderr. Never log secrets or event bodies.

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/settings.h"

namespace sluice {

struct LogSettings {
  std::string level = "info";
};

// log.level.
void declare_settings(settings::Schema& schema, LogSettings& log);

// `level` is one of trace, debug, info, warn, error, off (checked by the settings).
void configure_logging(std::string_view level);

// For a condition that every request meets while it lasts (the database is down under load): lets
// one report through per interval and counts the ones it holds back. Thread-safe.
class LogEvery {
 public:
  explicit LogEvery(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // Whether to report now; if so, `held_back` is how many were held back since the last report.
  bool now(std::uint64_t& held_back);

 private:
  const std::chrono::steady_clock::duration interval_;
  std::atomic<std::chrono::steady_clock::rep> next_{0};  // steady_clock ticks
  std::atomic<std::uint64_t> held_back_{0};
};

}  // namespace sluice
