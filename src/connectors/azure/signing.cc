#include "connectors/azure/signing.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace sluice::azure {

std::string base64_encode(std::string_view bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(written));
  return text;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  // EVP_DecodeBlock skips leading and trailing whitespace and counts padding as zero bytes:
  // refuse the one, subtract the other.
  const bool valid = std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
  });
  if (!valid) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  if (text.substr(0, text.size() - padding).find('=') != std::string_view::npos)
    return std::nullopt;
  std::string bytes(text.size() / 4 * 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  bytes.resize(static_cast<std::size_t>(written) - padding);
  return bytes;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string http_date(Micros time) {
  const std::time_t seconds = static_cast<std::time_t>(time / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} GMT", kDays[utc.tm_wday], utc.tm_mday,
                     kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

std::string url_encode(std::string_view text) {
  std::string encoded;
  encoded.reserve(text.size());
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      encoded += c;
    } else {
      encoded += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return encoded;
}

std::optional<std::string> url_decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded += text[i];
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      return std::nullopt;
    }
    decoded += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return decoded;
}

std::string shared_key_string_to_sign(std::string_view account, const StorageRequest& request) {
  // VERB, then the standard headers in their fixed order: Content-Encoding, Content-Language,
  // Content-Length (empty when 0), Content-MD5, Content-Type, Date (empty: x-ms-date is sent),
  // If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range.
  std::string text = fmt::format(
      "{}\n\n\n{}\n\n{}\n\n\n\n\n\n\n", request.verb,
      request.content_length == 0 ? std::string() : std::to_string(request.content_length),
      request.content_type);
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : request.ms_headers) {
    std::string lowered = name;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    headers[lowered] = value;
  }
  for (const auto& [name, value] : headers) text += fmt::format("{}:{}\n", name, value);
  text += fmt::format("/{}{}", account, request.path);
  // Each parameter once, lower-cased and sorted; several values of one name joined by commas.
  std::map<std::string, std::vector<std::string>> parameters;
  for (const auto& [name, value] : request.query) {
    std::string lowered = name;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    parameters[lowered].push_back(value);
  }
  for (auto& [name, values] : parameters) {
    std::sort(values.begin(), values.end());
    text += fmt::format("\n{}:{}", name, fmt::join(values, ","));
  }
  return text;
}

std::string shared_key_authorization(std::string_view account, std::string_view key,
                                     const StorageRequest& request) {
  return fmt::format("SharedKey {}:{}", account,
                     base64_encode(hmac_sha256(key, shared_key_string_to_sign(account, request))));
}

std::string cosmos_authorization(std::string_view verb, std::string_view resource_type,
                                 std::string_view resource_link, std::string_view date,
                                 std::string_view key) {
  auto lower = [](std::string_view text) {
    std::string lowered(text);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lowered;
  };
  const std::string payload = fmt::format("{}\n{}\n{}\n{}\n\n", lower(verb), lower(resource_type),
                                          resource_link, lower(date));
  return url_encode(
      fmt::format("type=master&ver=1.0&sig={}", base64_encode(hmac_sha256(key, payload))));
}

}  // namespace sluice::azure
