#include "app/config.h"

namespace sluice::app {
namespace {

void declare(settings::Schema& schema, Config& config) {
  http::declare_settings(schema, config.http);
  storage::declare_settings(schema, config.storage);
  queue::declare_settings(schema, config.queue);
  engine::declare_settings(schema, config.engine);
  pipeline::declare_settings(schema, config.pipeline);
  azure::declare_settings(schema, config.azure);
  twitch::declare_settings(schema, config.twitch);
  declare_settings(schema, config.log);
}

}  // namespace

Result<Config> load_config(const settings::Sources& sources) {
  Config config;
  settings::Schema schema;  // bound to `config`, which must not move while it is in use
  declare(schema, config);
  SLUICE_RETURN_IF_ERROR(schema.load(sources));
  return config;
}

std::vector<settings::Description> describe_settings() {
  Config defaults;
  settings::Schema schema;
  declare(schema, defaults);
  return schema.describe();
}

}  // namespace sluice::app
