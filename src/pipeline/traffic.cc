#include "pipeline/traffic.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "pipeline/money.h"

namespace sluice::pipeline {

namespace json = boost::json;

void StreamTotals::add(const StreamTotals& other) {
  events += other.events;
  followers += other.followers;
  subscriptions += other.subscriptions;
  gifted += other.gifted;
  bits += other.bits;
  donations += other.donations;
  for (const auto& [currency, minor] : other.donation_totals) donation_totals[currency] += minor;
}

Traffic::Traffic(std::string id_prefix, std::string stream_prefix, int streams, std::uint32_t seed)
    : id_prefix_(std::move(id_prefix)),
      stream_prefix_(std::move(stream_prefix)),
      streams_(std::max(1, streams)),
      random_(seed) {}

std::string Traffic::next() {
  const std::int64_t n = counter_++;
  const std::string stream = stream_prefix_ + std::to_string(n % streams_);
  StreamTotals& expected = expected_[stream];
  ++expected.events;
  const std::string head =
      fmt::format(R"({{"event_id":"{}{}","stream_id":"{}",)", id_prefix_, n, stream);
  switch (std::uniform_int_distribution(0, 3)(random_)) {
    case 0:
      ++expected.followers;
      return head + R"("type":"follower","user_name":"viewer"})";
    case 1: {
      const bool gifted = n % 3 == 0;
      ++expected.subscriptions;
      if (gifted) ++expected.gifted;
      return head + fmt::format(R"("type":"subscription","tier":"1000","gifted":{}}})", gifted);
    }
    case 2: {
      static const std::pair<const char*, int> kCurrencies[] = {
          {"USD", 2}, {"EUR", 2}, {"JPY", 0}, {"KWD", 3}};
      const auto& [currency, exponent] = kCurrencies[n % 4];
      const std::int64_t minor = std::uniform_int_distribution<std::int64_t>(1, 100'000)(random_);
      ++expected.donations;
      expected.donation_totals[currency] += minor;
      return head + fmt::format(R"("type":"donation","amount":"{}","currency":"{}"}})",
                                format_amount(minor, exponent), currency);
    }
    default: {
      const int bits = std::uniform_int_distribution(1, 5000)(random_);
      expected.bits += bits;
      return head + fmt::format(R"("type":"cheer","bits":{}}})", bits);
    }
  }
}

std::vector<std::string> compare_stats(const StreamTotals& expected, const json::value& stats) {
  std::vector<std::string> differences;
  const json::object* object = stats.if_object();
  if (object == nullptr) return {"the stats are not a JSON object"};
  auto count = [&](const char* field, std::int64_t want) {
    const json::value* found = object->if_contains(field);
    const std::int64_t got = found != nullptr && found->is_int64() ? found->as_int64() : -1;
    if (got != want) differences.push_back(fmt::format("{}: {} instead of {}", field, got, want));
  };
  count("events", expected.events);
  count("followers", expected.followers);
  count("subscriptions", expected.subscriptions);
  count("gifted_subscriptions", expected.gifted);
  count("bits", expected.bits);
  const json::value* donations = object->if_contains("donations");
  if (donations == nullptr || !donations->is_object()) {
    differences.push_back("donations: missing");
    return differences;
  }
  const json::value* donation_count = donations->as_object().if_contains("count");
  if (donation_count == nullptr || *donation_count != expected.donations) {
    differences.push_back(fmt::format("donations.count: {} instead of {}",
                                      donation_count ? json::serialize(*donation_count) : "none",
                                      expected.donations));
  }
  const json::value* totals = donations->as_object().if_contains("totals");
  const json::object empty;
  const json::object& got = totals != nullptr && totals->is_object() ? totals->as_object() : empty;
  if (got.size() != expected.donation_totals.size()) {
    differences.push_back(fmt::format("donations.totals: {} currencies instead of {}", got.size(),
                                      expected.donation_totals.size()));
  }
  for (const auto& [currency, minor] : expected.donation_totals) {
    const std::string want = format_amount(minor, *currency_exponent(currency));
    const json::value* found = got.if_contains(currency);
    if (found == nullptr || !found->is_string() || found->as_string() != want) {
      differences.push_back(fmt::format("donations.totals.{}: {} instead of {}", currency,
                                        found ? json::serialize(*found) : "none", want));
    }
  }
  return differences;
}

}  // namespace sluice::pipeline
