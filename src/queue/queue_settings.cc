#include "queue/queue_settings.h"

#include <fmt/format.h>

namespace sluice::queue {
namespace {

// A queue name becomes part of storage keys; keep it to a small, safe alphabet.
settings::Parser queue_name(std::string& field) {
  return [&field](std::string_view value) -> Status {
    if (value.empty() || value.size() > 63) return invalid_argument("must be 1 to 63 characters");
    if (value.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
        std::string_view::npos) {
      return invalid_argument(fmt::format("\"{}\" may hold only a-z, 0-9 and '-'", value));
    }
    field = value;
    return {};
  };
}

}  // namespace

void declare_settings(settings::Schema& schema, QueueSettings& queue) {
  schema.custom("queue.name", fmt::format("`{}`", queue.name), "intake queue",
                queue_name(queue.name));
  schema.custom("queue.deadletter", fmt::format("`{}`", queue.deadletter), "dead-letter store",
                queue_name(queue.deadletter));
  schema.integer<std::int64_t>(
      "queue.max_depth", queue.max_depth, 1, 1'000'000'000'000,
      "events waiting at most; a batch that would go beyond gets `503` + `Retry-After`");
  schema.check([&queue]() -> Status {
    if (queue.name == queue.deadletter) {
      return settings::error("queue.deadletter", "must differ from queue.name");
    }
    return {};
  });
}

}  // namespace sluice::queue
