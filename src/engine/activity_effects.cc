#include "engine/activity_effects.h"

#include <boost/json.hpp>

#include "docs/document_container.h"
#include "storage/document_patch.h"

namespace sluice::engine {

Status ActivityEffects::upsert(std::string_view container, std::string_view partition,
                               std::string_view id, std::string_view json) {
  SLUICE_ASSIGN_OR_RETURN(const std::string key, docs::document_key(container, partition, id));
  boost::system::error_code error;
  const boost::json::value parsed = boost::json::parse(json, error);
  if (error || !parsed.is_object()) return invalid_argument("json: must be a JSON object");
  mutation_.put(storage::Table::kDocuments, key, json);
  return {};
}

Status ActivityEffects::increment(std::string_view container, std::string_view partition,
                                  std::string_view id, std::string_view field, std::int64_t delta) {
  SLUICE_ASSIGN_OR_RETURN(const std::string key, docs::document_key(container, partition, id));
  if (field.empty()) return invalid_argument("field: must not be empty");
  storage::DocumentPatch patch;
  patch.increment({std::string(field)}, delta).assign({"id"}, boost::json::string(id));
  mutation_.patch(key, patch);
  return {};
}

Status ActivityEffects::erase(std::string_view container, std::string_view partition,
                              std::string_view id) {
  SLUICE_ASSIGN_OR_RETURN(const std::string key, docs::document_key(container, partition, id));
  mutation_.erase(storage::Table::kDocuments, key);
  return {};
}

}  // namespace sluice::engine
