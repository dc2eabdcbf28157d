// DocumentPatch::decode on arbitrary bytes, as RocksDB's merge operator meets them: damage is
// refused with a Status, never a crash, and applying whatever decodes never crashes either. A
// patch that decodes encodes back to one that applies the same way (doubles to within the last
// bits: Boost 1.81 parses numbers fast rather than exactly; sluice itself writes only integers).

#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "storage/document_patch.h"

namespace {

bool same(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) {
    const double x = a.get_double(), y = b.get_double();
    return x == y || std::fabs(x - y) <= 1e-14 * std::fmax(std::fabs(x), std::fabs(y));
  }
  if (a.is_object() && b.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
      if (i->key() != j->key() || !same(i->value(), j->value())) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!same(x[i], y[i])) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using sluice::storage::DocumentPatch;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto patch = DocumentPatch::decode(bytes);
  // The merge operator's path: patches applied to a document, and patches folded together.
  (void)sluice::storage::apply_patches(R"({"a":{"b":1},"c":"x"})", {bytes, bytes});
  std::string folded = R"([])";
  (void)sluice::storage::append_encoded_patch(folded, bytes);
  if (!patch.ok()) return 0;
  auto again = DocumentPatch::decode(patch->encode());
  if (!again.ok()) std::abort();
  boost::json::object first{{"a", boost::json::object{{"b", 1}}}};
  boost::json::object second = first;
  const bool applied = patch->apply_to(first).ok();
  if (again->apply_to(second).ok() != applied || (applied && !same(first, second))) std::abort();
  return 0;
}
