#include "storage/backend.h"

#include <fmt/format.h>

namespace sluice::storage {

Result<std::int64_t> Backend::counter(std::string_view key) {
  SLUICE_ASSIGN_OR_RETURN(auto value, get(Table::kCounters, key));
  if (!value) return std::int64_t{0};
  if (value->size() != 8) return corruption(fmt::format("counter {} is not 8 bytes", key));
  return decode_counter(*value);
}

}  // namespace sluice::storage
