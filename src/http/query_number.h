#pragma once

// Reading numbers from query parameters: only plain decimal digits in [low, high] are accepted
// (no sign, spaces or overflow), so every route refuses the same things the same way.

#include <charconv>
#include <string_view>

namespace sluice::http {

template <typename Number>
bool parse_query_number(std::string_view text, Number low, Number high, Number& out) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low || value > high) {
    return false;
  }
  out = value;
  return true;
}

}  // namespace sluice::http
