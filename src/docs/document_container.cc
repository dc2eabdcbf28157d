#include "docs/document_container.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "storage/key_encoding.h"

namespace sluice::docs {

namespace json = boost::json;
using storage::Table;

namespace {

constexpr std::size_t kMaxKeyPart = 255;

Status check_key_part(std::string_view what, std::string_view part) {
  if (part.empty() || part.size() > kMaxKeyPart || part.find('\0') != std::string_view::npos) {
    return invalid_argument(fmt::format("{} must be 1 to {} bytes with no NUL", what, kMaxKeyPart));
  }
  return {};
}

}  // namespace

Result<std::string> document_key(std::string_view container, std::string_view partition,
                                 std::string_view id) {
  SLUICE_RETURN_IF_ERROR(check_key_part("container", container));
  SLUICE_RETURN_IF_ERROR(check_key_part("partition", partition));
  SLUICE_RETURN_IF_ERROR(check_key_part("id", id));
  return storage::key_prefix({container, partition}) + std::string(id);
}

DocumentContainer::DocumentContainer(storage::Backend& backend, std::string name,
                                     std::string partition_key_path)
    : backend_(backend),
      name_(std::move(name)),
      partition_member_(partition_key_path.substr(partition_key_path.starts_with('/') ? 1 : 0)) {}

Result<std::string> DocumentContainer::key(std::string_view partition, std::string_view id) const {
  SLUICE_RETURN_IF_ERROR(check_key_part(partition_member_, partition));
  SLUICE_RETURN_IF_ERROR(check_key_part("id", id));
  return storage::key_prefix({name_, partition}) + std::string(id);
}

Result<std::optional<json::object>> DocumentContainer::read(std::string_view partition,
                                                            std::string_view id) {
  SLUICE_ASSIGN_OR_RETURN(std::string document_key, key(partition, id));
  SLUICE_ASSIGN_OR_RETURN(auto stored, backend_.get(Table::kDocuments, document_key));
  if (!stored) return std::optional<json::object>();
  boost::system::error_code error;
  json::value parsed = json::parse(*stored, error);
  if (error || !parsed.is_object()) {
    return corruption(
        fmt::format("document {}/{} in {} is not a JSON object", partition, id, name_));
  }
  return std::optional<json::object>(std::move(parsed.get_object()));
}

Result<Page> DocumentContainer::list(std::string_view partition, const ListOptions& options) {
  SLUICE_RETURN_IF_ERROR(check_key_part(partition_member_, partition));
  storage::ScanOptions scan;
  scan.prefix = storage::key_prefix({name_, partition});
  if (options.cursor) {
    SLUICE_RETURN_IF_ERROR(check_key_part("cursor", *options.cursor));
    scan.after = scan.prefix + *options.cursor;
  }
  scan.limit = options.limit + 1;  // one more tells whether another page exists
  scan.reverse = options.descending;
  SLUICE_ASSIGN_OR_RETURN(auto entries, backend_.scan(Table::kDocuments, scan));

  Page page;
  const bool more = entries.size() > options.limit;
  if (more) entries.pop_back();
  for (const auto& entry : entries) {
    boost::system::error_code error;
    json::value parsed = json::parse(entry.value, error);
    if (error || !parsed.is_object()) {
      return corruption(fmt::format("a document in {}/{} is not a JSON object", name_, partition));
    }
    page.items.push_back(std::move(parsed.get_object()));
    page.ids.push_back(entry.key.substr(scan.prefix.size()));
  }
  if (more && !entries.empty()) page.next_cursor = entries.back().key.substr(scan.prefix.size());
  return page;
}

Status DocumentContainer::upsert(storage::Mutation& mutation, const json::object& document) const {
  const auto* id = document.if_contains("id");
  const auto* partition = document.if_contains(partition_member_);
  if (id == nullptr || !id->is_string()) return invalid_argument("id: must be a string");
  if (partition == nullptr || !partition->is_string()) {
    return invalid_argument(fmt::format("{}: must be a string", partition_member_));
  }
  SLUICE_ASSIGN_OR_RETURN(std::string document_key, key(partition->get_string(), id->get_string()));
  mutation.put(Table::kDocuments, document_key, json::serialize(document));
  return {};
}

Status DocumentContainer::upsert_text(storage::Mutation& mutation, std::string_view partition,
                                      std::string_view id, std::string_view document) const {
  SLUICE_ASSIGN_OR_RETURN(std::string document_key, key(partition, id));
  mutation.put(Table::kDocuments, document_key, document);
  return {};
}

Status DocumentContainer::patch(storage::Mutation& mutation, std::string_view partition,
                                std::string_view id, storage::DocumentPatch patch) const {
  SLUICE_ASSIGN_OR_RETURN(std::string document_key, key(partition, id));
  patch.assign({"id"}, json::string(id)).assign({partition_member_}, json::string(partition));
  mutation.patch(document_key, patch);
  return {};
}

Status DocumentContainer::erase(storage::Mutation& mutation, std::string_view partition,
                                std::string_view id) const {
  SLUICE_ASSIGN_OR_RETURN(std::string document_key, key(partition, id));
  mutation.erase(Table::kDocuments, document_key);
  return {};
}

}  // namespace sluice::docs
