#pragma once

// The intake queue's and the dead-letter store's names, and how deep the queue may grow:
// `queue.name`, `queue.deadletter`, `queue.max_depth`.

#include <cstdint>
#include <string>

#include "core/settings.h"

namespace sluice::queue {

struct QueueSettings {
  std::string name = "alerts";
  std::string deadletter = "alerts-deadletter";
  std::int64_t max_depth = 10'000'000;  // appends beyond this many queued events get 503
};

void declare_settings(settings::Schema& schema, QueueSettings& queue);

}  // namespace sluice::queue
