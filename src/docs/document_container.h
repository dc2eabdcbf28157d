#pragma once

// DocumentContainer: JSON documents in a named container, partitioned like Cosmos DB containers.
//
// Each document has an "id" and a partition key (a top-level member named by the container's
// partition key path, e.g. "/stream_id"); (partition, id) is unique. Reads and listings stay inside
// one partition. Writes go into a caller's Mutation, so they commit together with whatever caused
// them.

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sluice/status.h"
#include "storage/backend.h"
#include "storage/document_patch.h"

namespace sluice::docs {

struct ListOptions {
  std::optional<std::string> cursor;  // from a previous Page; start after it
  std::size_t limit = 100;
  bool descending = false;  // by id
};

struct Page {
  std::vector<boost::json::object> items;
  std::vector<std::string> ids;            // each item's document id, in the same order
  std::optional<std::string> next_cursor;  // absent on the last page
};

// The storage key of document `id` in `partition` of `container`; an error names the part that
// is empty, longer than 255 bytes or holds a NUL.
Result<std::string> document_key(std::string_view container, std::string_view partition,
                                 std::string_view id);

class DocumentContainer {
 public:
  // `partition_key_path` is "/member". `backend` must outlive the container.
  DocumentContainer(storage::Backend& backend, std::string name, std::string partition_key_path);

  const std::string& name() const { return name_; }

  Result<std::optional<boost::json::object>> read(std::string_view partition, std::string_view id);
  Result<Page> list(std::string_view partition, const ListOptions& options);

  // Adds to `mutation` the replacement (or creation) of `document`; its id and partition key
  // come from the document, which must have both as non-empty strings.
  Status upsert(storage::Mutation& mutation, const boost::json::object& document) const;
  // The same, for a document already serialised by the caller (it must be a JSON object holding
  // the given id and partition key).
  Status upsert_text(storage::Mutation& mutation, std::string_view partition, std::string_view id,
                     std::string_view document) const;
  // Adds a field-level patch; a missing document is created with its id and partition key.
  Status patch(storage::Mutation& mutation, std::string_view partition, std::string_view id,
               storage::DocumentPatch patch) const;
  Status erase(storage::Mutation& mutation, std::string_view partition, std::string_view id) const;

 private:
  Result<std::string> key(std::string_view partition, std::string_view id) const;

  storage::Backend& backend_;
  const std::string name_;
  const std::string partition_member_;
};

}  // namespace sluice::docs
