// The configuration loader on arbitrary TOML files: every file either loads or is refused with
// a message, never a crash or an exception.

#include <cstdint>
#include <string>

#include "app/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  settings::Sources sources;
  sources.file = "fuzz.toml";
  sources.file_contents = std::string(reinterpret_cast<const char*>(data), size);
  sources.environment = [](const std::string&) -> std::optional<std::string> {
    return std::nullopt;
  };
  auto config = app::load_config(sources);
  if (!config.ok() && config.status().message().empty()) __builtin_trap();
  return 0;
}
