#pragma once

// DocumentPatch: field-level changes to a JSON document that commute with each other, so that
// many writers can update one document (a stream's running totals) without reading it first.
// A backend applies a patch where the document lives (RocksDB: a merge operator).
//
// Paths name object members from the root; missing objects along a path are created.

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/status.h"

namespace sluice::storage {

class DocumentPatch {
 public:
  using Path = std::vector<std::string>;

  // Adds `delta` to the integer at `path` (absent counts as 0); a sum beyond the range of
  // int64 stays at the limit.
  DocumentPatch& increment(Path path, std::int64_t delta);
  // Sets `path` to `value` unless it already holds a greater value of the same kind (numbers by
  // value, strings bytewise — RFC 3339 UTC times compare correctly that way).
  DocumentPatch& maximum(Path path, boost::json::value value);
  // Sets `path` to `value`; of two patches the later one applied wins.
  DocumentPatch& assign(Path path, boost::json::value value);

  bool empty() const { return operations_.empty(); }

  std::string encode() const;
  static Result<DocumentPatch> decode(std::string_view encoded);

  // Applies every operation in order. On error `document` may be partly changed.
  Status apply_to(boost::json::object& document) const;

 private:
  enum class Kind : std::uint8_t { kIncrement, kMaximum, kAssign };
  struct Operation {
    Kind kind;
    Path path;
    boost::json::value value;
  };
  std::vector<Operation> operations_;
};

// Appends the operations of the encoded patch `next` to the encoded patch `into`, so that applying
// `into` afterwards equals applying both in order: many patches to one document become one. False,
// and `into` unchanged, if either is not an encoded patch's outer array.
bool append_encoded_patch(std::string& into, std::string_view next);

// Applies encoded patches, in order, to an encoded document (empty: a new `{}`); returns the new
// encoded document.
Result<std::string> apply_patches(std::string_view document,
                                  const std::vector<std::string_view>& patches);

}  // namespace sluice::storage
