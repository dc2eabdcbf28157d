#pragma once

// ActivityEffects: the engine's Effects, gathered into the Mutation that commits with an
// activity attempt's completion. Every Effects an activity is handed is one of these, so the
// engine's own modules (the pipeline) may write through mutation_of() what the public interface
// does not offer.

#include "sluice/effects.h"
#include "storage/mutation.h"

namespace sluice::engine {

class ActivityEffects final : public Effects {
 public:
  Status upsert(std::string_view container, std::string_view partition, std::string_view id,
                std::string_view json) override;
  Status increment(std::string_view container, std::string_view partition, std::string_view id,
                   std::string_view field, std::int64_t delta) override;
  Status erase(std::string_view container, std::string_view partition,
               std::string_view id) override;

  storage::Mutation& mutation() { return mutation_; }

 private:
  storage::Mutation mutation_;
};

// The Mutation behind an activity's effects.
inline storage::Mutation& mutation_of(Effects& effects) {
  return static_cast<ActivityEffects&>(effects).mutation();
}

}  // namespace sluice::engine
