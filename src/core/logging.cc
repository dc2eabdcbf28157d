#include "core/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace sluice {

void declare_settings(settings::Schema& schema, LogSettings& log) {
  schema.choice("log.level", log.level, {"trace", "debug", "info", "warn", "error", "off"},
                "trace, debug, info, warn, error, off");
}

void configure_logging(std::string_view level) {
  auto logger = spdlog::stderr_logger_mt("sluice");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

bool LogEvery::now(std::uint64_t& held_back) {
  const auto at = std::chrono::steady_clock::now().time_since_epoch().count();
  auto next = next_.load(std::memory_order_relaxed);
  if (at < next || !next_.compare_exchange_strong(next, at + interval_.count())) {
    held_back_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  held_back = held_back_.exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace sluice
