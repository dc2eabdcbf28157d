// parse_rfc3339 on arbitrary text: anything that is not an RFC 3339 date-time is refused, never a
// crash; a time that parses formats (to the millisecond) to text that parses again.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/clock.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sluice::Micros time = 0;
  if (!sluice::parse_rfc3339(text, time)) return 0;
  sluice::Micros again = 0;
  if (!sluice::parse_rfc3339(sluice::format_rfc3339(time), again)) std::abort();
  if (again > time || time - again >= 1000) std::abort();  // the same, to the millisecond
  return 0;
}
