// parse_amount on arbitrary text with each exponent: refusals are a Status, never a crash; an
// accepted amount is positive, below the limit, and formats back to text that parses the same.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pipeline/money.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::pipeline;
  if (size == 0) return 0;
  const int exponent = data[0] % 4;  // ISO 4217 exponents are 0 to 3
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto amount = parse_amount(text, exponent);
  if (!amount.ok()) return 0;
  if (*amount <= 0) std::abort();
  auto again = parse_amount(format_amount(*amount, exponent), exponent);
  if (!again.ok() || *again != *amount) std::abort();
  return 0;
}
