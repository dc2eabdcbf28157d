#include "engine/engine_settings.h"

#include <algorithm>
#include <thread>

#include "storage/cluster.h"

namespace sluice::engine {

void declare_settings(settings::Schema& schema, EngineSettings& engine) {
  schema
      .integer("engine.partitions", engine.partitions, 0u, storage::kMaxPartitions,
               "instances hash to partitions; one thread each")
      .shown_default("cores");
  schema.integer("engine.activity_workers", engine.activity_workers, 1u, 1024u,
                 "threads running activities");
  schema.integer<std::size_t>("engine.max_active_instances", engine.max_active_instances, 1,
                              100'000'000, "starts beyond this get `503` + `Retry-After`");
  schema.integer("engine.retention_hours", engine.retention_hours, 0u, 24u * 365 * 100,
                 "finished instances are purged this long after they finish; 0 keeps them");
  schema.check([&engine]() -> Status {
    if (engine.partitions == 0)
      engine.partitions = std::max(1u, std::thread::hardware_concurrency());
    return {};
  });
}

}  // namespace sluice::engine
