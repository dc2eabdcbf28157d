#pragma once

// Logging goes through spdlog's default logger, to stderr. Never log secrets or event bodies.

#include <spdlog/spdlog.h>

#include <string_view>

namespace sluice {

// `level` is one of trace, debug, info, warn, error, off (checked by the configuration).
void configure_logging(std::string_view level);

}  // namespace sluice
