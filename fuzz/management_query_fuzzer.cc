// The management API's query parameters on arbitrary request targets and continuation tokens:
// anything is refused with the parameter named or accepted within its bounds, never a crash.

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "http/query.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::http;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The first line is the target, the rest the continuation header.
  const std::size_t newline = input.find('\n');
  const std::string_view target = input.substr(0, newline);
  const std::string_view token =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  QueryParameters parameters;
  if (!parse_query(target, parameters)) return 0;
  unsigned seconds = 0;
  if (!parse_seconds(parameters, "timeout", 3600, seconds) && seconds > 3600) std::abort();
  (void)is_true(parameters, "showHistory", false);
  auto parsed = parse_instance_query(parameters, token);
  if (const auto* refusal = std::get_if<ParameterError>(&parsed)) {
    if (refusal->name.empty() || refusal->message.empty()) std::abort();
    return 0;
  }
  const auto& query = std::get<sluice::engine::InstanceQuery>(parsed);
  if (query.top < 1 || query.top > kMaxTop || query.id_prefix.size() > 128) std::abort();
  return 0;
}
