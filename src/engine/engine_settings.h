#pragma once

// The engine's threads and limits: `engine.partitions`, `engine.activity_workers`,
// `engine.max_active_instances`, `engine.retention_hours`.

#include <cstddef>

#include "core/settings.h"

namespace sluice::engine {

struct EngineSettings {
  unsigned partitions = 0;  // 0 at declaration: one per core once loaded
  unsigned activity_workers = 1;
  std::size_t max_active_instances = 100'000;
  unsigned retention_hours = 0;  // finished instances kept this long; 0: forever
};

void declare_settings(settings::Schema& schema, EngineSettings& engine);

}  // namespace sluice::engine
