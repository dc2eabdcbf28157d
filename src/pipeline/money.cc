#include "pipeline/money.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace sluice::pipeline {
namespace {

struct Currency {
  std::string_view code;
  int exponent;
};

// Active ISO 4217 codes with their minor-unit exponents, sorted by code. Funds, precious metals
// and testing codes without a minor unit (XAU, XTS, XXX, …) are not money here.
constexpr std::array kCurrencies = std::to_array<Currency>({
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2},
    {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0},
    {"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2},
    {"BYN", 2}, {"BZD", 2}, {"CAD", 2}, {"CDF", 2}, {"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4},
    {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2}, {"CRC", 2}, {"CUC", 2}, {"CUP", 2}, {"CVE", 2},
    {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2}, {"ETB", 2},
    {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2}, {"GMD", 2},
    {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2}, {"IDR", 2},
    {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0},
    {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3}, {"KYD", 2},
    {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2},
    {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2},
    {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MXV", 2}, {"MYR", 2}, {"MZN", 2}, {"NAD", 2}, {"NGN", 2},
    {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2},
    {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2}, {"RUB", 2},
    {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2}, {"SHP", 2},
    {"SLE", 2}, {"SLL", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2},
    {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2},
    {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2},
    {"UYW", 4}, {"UZS", 2}, {"VED", 2}, {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0},
    {"XCD", 2}, {"XCG", 2}, {"XOF", 0}, {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
    {"ZWL", 2},
});

static_assert(std::is_sorted(kCurrencies.begin(), kCurrencies.end(),
                             [](const Currency& a, const Currency& b) { return a.code < b.code; }));

constexpr std::int64_t power_of_ten(int exponent) {
  std::int64_t value = 1;
  for (int i = 0; i < exponent; ++i) value *= 10;
  return value;
}

}  // namespace

std::optional<int> currency_exponent(std::string_view code) {
  auto found =
      std::lower_bound(kCurrencies.begin(), kCurrencies.end(), code,
                       [](const Currency& c, std::string_view key) { return c.code < key; });
  if (found == kCurrencies.end() || found->code != code) return std::nullopt;
  return found->exponent;
}

Result<std::int64_t> parse_amount(std::string_view decimal, int exponent) {
  const size_t point = decimal.find('.');
  const std::string_view whole = decimal.substr(0, point);
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : decimal.substr(point + 1);
  auto all_digits = [](std::string_view part) {
    return std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || !all_digits(whole) || !all_digits(fraction) ||
      (point != std::string_view::npos && fraction.empty())) {
    if (decimal.starts_with('-')) return invalid_argument("must be positive");
    return invalid_argument(
        fmt::format("\"{}\" is not a plain decimal number such as 12.50", decimal.substr(0, 40)));
  }
  // Trailing zeros beyond the currency's precision change nothing: "5.000" USD is 5.00.
  std::string_view significant = fraction;
  while (significant.size() > static_cast<size_t>(exponent) && significant.back() == '0') {
    significant.remove_suffix(1);
  }
  if (significant.size() > static_cast<size_t>(exponent)) {
    return invalid_argument(fmt::format("has more than {} decimal places", exponent));
  }
  std::string_view digits = whole;
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  if (digits.size() > 13) return invalid_argument("is too large");
  std::int64_t major = 0;
  for (char c : digits) major = major * 10 + (c - '0');
  if (major >= kMaxMajorUnits) return invalid_argument("is too large");
  std::int64_t minor = 0;
  for (int i = 0; i < exponent; ++i) {
    minor = minor * 10 + (i < static_cast<int>(significant.size()) ? significant[i] - '0' : 0);
  }
  const std::int64_t total = major * power_of_ten(exponent) + minor;
  if (total == 0) return invalid_argument("must be positive");
  return total;
}

std::string format_amount(std::int64_t minor_units, int exponent) {
  const std::string_view sign = minor_units < 0 ? "-" : "";
  const std::uint64_t magnitude =
      minor_units < 0 ? 0 - static_cast<std::uint64_t>(minor_units) : minor_units;
  if (exponent == 0) return fmt::format("{}{}", sign, magnitude);
  const auto scale = static_cast<std::uint64_t>(power_of_ten(exponent));
  return fmt::format("{}{}.{:0{}}", sign, magnitude / scale, magnitude % scale, exponent);
}

}  // namespace sluice::pipeline
