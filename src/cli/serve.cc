// `sluice serve`: load and check the configuration, assemble the node, serve HTTP until told to
// stop.

#include <fmt/format.h>

#include <cstdio>

#include "app/node.h"
#include "cli/commands.h"
#include "core/logging.h"

namespace sluice::cli {
namespace {

int configuration_error(std::string_view message) {
  fmt::print(stderr, "sluice: {}\n", message);
  return kExitUsage;
}

}  // namespace

int serve(const ServeFlags& flags) {
  if (flags.help_settings) {
    fmt::print("{}", settings::help_text(app::describe_settings()));
    return kExitOk;
  }
  settings::Sources sources;
  sources.file = flags.config_file;
  if (flags.data) sources.overrides.emplace_back("storage", "rocksdb:" + *flags.data);
  if (flags.listen) sources.overrides.emplace_back("listen", *flags.listen);
  for (const auto& setting : flags.settings) {
    const size_t equals = setting.find('=');
    if (equals == std::string::npos || equals == 0) {
      // Not echoed: the argument may be a secret written with a typo.
      return configuration_error("--set: expected KEY=VALUE; one argument has no KEY=");
    }
    sources.overrides.emplace_back(setting.substr(0, equals), setting.substr(equals + 1));
  }
  auto loaded = app::load_config(sources);
  if (!loaded.ok()) return configuration_error(loaded.status().message());
  configure_logging(loaded->log.level);
  auto node = app::Node::open(*loaded);
  if (!node.ok()) return configuration_error(node.status().message());
  if (Status started = (*node)->start(); !started.ok()) {
    return configuration_error(started.message());
  }
  (*node)->run();
  return kExitOk;
}

}  // namespace sluice::cli
