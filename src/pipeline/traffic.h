#pragma once

// Synthetic traffic: random stream events of every type, and the stats they must produce. Used by
// `sluice simulate` and the tests to check the pipeline's totals to the minor unit.

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace sluice::pipeline {

// What one stream's stats document must say after the events sent to it.
struct StreamTotals {
  std::int64_t events = 0, followers = 0, subscriptions = 0, gifted = 0, bits = 0, donations = 0;
  std::map<std::string, std::int64_t> donation_totals;  // currency → minor units

  void add(const StreamTotals& other);
};

class Traffic {
 public:
  // Events get ids "<id_prefix><n>" and streams "<stream_prefix><n % streams>".
  Traffic(std::string id_prefix, std::string stream_prefix, int streams, std::uint32_t seed);

  // A random event for the next stream in turn, recorded in expected().
  std::string next();

  const std::map<std::string, StreamTotals>& expected() const { return expected_; }
  std::int64_t sent() const { return counter_; }

 private:
  std::string id_prefix_;
  std::string stream_prefix_;
  int streams_;
  std::int64_t counter_ = 0;
  std::mt19937 random_;
  std::map<std::string, StreamTotals> expected_;
};

// How a stats document (GET /api/streams/{id}/stats) differs from `expected`, one line per
// difference; empty when it matches exactly.
std::vector<std::string> compare_stats(const StreamTotals& expected,
                                       const boost::json::value& stats);

}  // namespace sluice::pipeline
