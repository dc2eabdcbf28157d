#pragma once

// Money: amounts are integers in a currency's minor unit (cents for USD, yen for JPY), never
// floating point. The ISO 4217 table gives each currency's exponent.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/status.h"

namespace sluice::pipeline {

// Digits after the decimal point for an active ISO 4217 currency ("USD" → 2, "JPY" → 0,
// "KWD" → 3); nullopt for anything else, lower case included.
std::optional<int> currency_exponent(std::string_view code);

// Largest amount accepted, in major units: far above any real donation, far below overflow.
inline constexpr std::int64_t kMaxMajorUnits = 1'000'000'000'000;

// "12.5" with exponent 2 → 1250. Accepts plain decimals only (no sign, exponent or spaces);
// refuses more decimals than `exponent`, zero, and amounts of kMaxMajorUnits or more. The error
// message says which rule was broken.
Result<std::int64_t> parse_amount(std::string_view decimal, int exponent);

// 1250 with exponent 2 → "12.50".
std::string format_amount(std::int64_t minor_units, int exponent);

}  // namespace sluice::pipeline
