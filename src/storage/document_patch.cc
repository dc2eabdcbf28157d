#include "storage/document_patch.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>

namespace sluice::storage {
namespace json = boost::json;

DocumentPatch& DocumentPatch::increment(Path path, std::int64_t delta) {
  operations_.push_back({Kind::kIncrement, std::move(path), json::value(delta)});
  return *this;
}

DocumentPatch& DocumentPatch::maximum(Path path, json::value value) {
  operations_.push_back({Kind::kMaximum, std::move(path), std::move(value)});
  return *this;
}

DocumentPatch& DocumentPatch::assign(Path path, json::value value) {
  operations_.push_back({Kind::kAssign, std::move(path), std::move(value)});
  return *this;
}

namespace {

constexpr std::string_view kKindNames[] = {"inc", "max", "set"};

// The member at `path`, creating objects along the way; null if something in the way is not an
// object.
json::value* walk(json::object& document, const DocumentPatch::Path& path) {
  json::object* current = &document;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    json::value& next = (*current)[path[i]];
    if (next.is_null()) next.emplace_object();
    current = next.if_object();
    if (current == nullptr) return nullptr;
  }
  return &(*current)[path.back()];
}

std::string path_text(const DocumentPatch::Path& path) {
  return fmt::format("/{}", fmt::join(path, "/"));
}

bool greater(const json::value& a, const json::value& b) {
  if (a.is_string() && b.is_string()) return a.get_string() > b.get_string();
  if (a.is_int64() && b.is_int64()) return a.get_int64() > b.get_int64();
  return false;
}

// Boost.JSON parses a number beyond double's range as infinity but writes infinity as
// `Infinity`, which is not JSON: a value holding one would leave its document unreadable.
bool finite(const json::value& value) {
  switch (value.kind()) {
    case json::kind::double_:
      return std::isfinite(value.get_double());
    case json::kind::array:
      for (const auto& item : value.get_array()) {
        if (!finite(item)) return false;
      }
      return true;
    case json::kind::object:
      for (const auto& member : value.get_object()) {
        if (!finite(member.value())) return false;
      }
      return true;
    default:
      return true;
  }
}

}  // namespace

// [[kind, [member, ...], value], ...], written straight into the text: every processed event
// encodes one, and building it as a json::array first cost twice as much.
std::string DocumentPatch::encode() const {
  std::string encoded = "[";
  for (const auto& operation : operations_) {
    if (encoded.size() > 1) encoded += ',';
    encoded += "[\"";
    encoded += kKindNames[static_cast<int>(operation.kind)];
    encoded += "\",[";
    for (std::size_t i = 0; i < operation.path.size(); ++i) {
      if (i > 0) encoded += ',';
      encoded += json::serialize(json::string_view(operation.path[i]));
    }
    encoded += "],";
    encoded += json::serialize(operation.value);
    encoded += ']';
  }
  encoded += ']';
  return encoded;
}

Result<DocumentPatch> DocumentPatch::decode(std::string_view encoded) {
  boost::system::error_code error;
  json::value parsed = json::parse(encoded, error);
  const json::array* operations = parsed.if_array();
  if (error || operations == nullptr) return corruption("document patch is not a JSON array");
  DocumentPatch patch;
  for (const auto& item : *operations) {
    const json::array* fields = item.if_array();
    if (fields == nullptr || fields->size() != 3 || !(*fields)[0].is_string() ||
        !(*fields)[1].is_array() || (*fields)[1].get_array().empty()) {
      return corruption("document patch operation is malformed");
    }
    Operation operation;
    const auto& kind = (*fields)[0].get_string();
    if (kind == "inc") {
      operation.kind = Kind::kIncrement;
      if (!(*fields)[2].is_int64()) return corruption("document patch increment is not an integer");
    } else if (kind == "max") {
      operation.kind = Kind::kMaximum;
    } else if (kind == "set") {
      operation.kind = Kind::kAssign;
    } else {
      return corruption(
          fmt::format("document patch operation \"{}\" is unknown", std::string_view(kind)));
    }
    for (const auto& member : (*fields)[1].get_array()) {
      if (!member.is_string()) return corruption("document patch path is malformed");
      operation.path.emplace_back(member.get_string());
    }
    if (!finite((*fields)[2])) return corruption("document patch value has a number out of range");
    operation.value = (*fields)[2];
    patch.operations_.push_back(std::move(operation));
  }
  return patch;
}

Status DocumentPatch::apply_to(json::object& document) const {
  for (const auto& operation : operations_) {
    json::value* target = walk(document, operation.path);
    if (target == nullptr) {
      return invalid_argument(
          fmt::format("{}: a member on the way is not an object", path_text(operation.path)));
    }
    switch (operation.kind) {
      case Kind::kIncrement:
        if (target->is_null()) {
          *target = operation.value;
        } else if (target->is_int64()) {
          // A patch is applied after its write was acknowledged (RocksDB: in the merge operator),
          // where an error would leave the document unreadable for good. So a sum past the
          // integer's range stays at the limit instead.
          std::int64_t& total = target->get_int64();
          const std::int64_t delta = operation.value.get_int64();
          if (__builtin_add_overflow(total, delta, &total)) {
            total = delta > 0 ? std::numeric_limits<std::int64_t>::max()
                              : std::numeric_limits<std::int64_t>::min();
          }
        } else {
          return invalid_argument(
              fmt::format("{}: cannot increment a non-integer", path_text(operation.path)));
        }
        break;
      case Kind::kMaximum:
        if (target->is_null() || greater(operation.value, *target)) *target = operation.value;
        break;
      case Kind::kAssign:
        *target = operation.value;
        break;
    }
  }
  return {};
}

bool append_encoded_patch(std::string& into, std::string_view next) {
  auto is_array = [](std::string_view text) {
    return text.size() >= 2 && text.front() == '[' && text.back() == ']';
  };
  if (!is_array(into) || !is_array(next)) return false;
  if (next.size() == 2) return true;  // no operations
  if (into.size() == 2) {
    into.assign(next);
    return true;
  }
  into.back() = ',';
  into.append(next.substr(1));
  return true;
}

Result<std::string> apply_patches(std::string_view document,
                                  const std::vector<std::string_view>& patches) {
  json::object object;
  if (!document.empty()) {
    boost::system::error_code error;
    json::value parsed = json::parse(document, error);
    if (error || !parsed.is_object()) return corruption("stored document is not a JSON object");
    object = std::move(parsed.get_object());
  }
  for (std::string_view encoded : patches) {
    SLUICE_ASSIGN_OR_RETURN(DocumentPatch patch, DocumentPatch::decode(encoded));
    SLUICE_RETURN_IF_ERROR(patch.apply_to(object));
  }
  return json::serialize(object);
}

}  // namespace sluice::storage
