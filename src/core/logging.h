#pragma once

// Logging goes through spdlog's default logger, to stderr. Never log secrets or event bodies.

#include <spdlog/spdlog.h>

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

}  // namespace sluice
