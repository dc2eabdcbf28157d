#pragma once

// The samples of a Prometheus text answer (GET /metrics), by name with labels. A sample that is
// missing is missing: read them with at(), so that a renamed metric fails the test.

#include <map>
#include <sstream>
#include <string>

namespace sluice::testing {

inline std::map<std::string, double> metric_samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

}  // namespace sluice::testing
