#include "core/clock.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace sluice {

Micros SystemClock::now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_rfc3339(Micros time) {
  using namespace std::chrono;
  const sys_time<microseconds> point{microseconds(time)};
  const auto seconds = floor<std::chrono::seconds>(point);
  const auto millis = duration_cast<milliseconds>(point - seconds).count();
  // Times formatted one after another mostly fall in the same second (an event's receipt, its
  // log entry, its alert): the calendar part is formatted once per second and thread.
  struct SecondText {
    sys_seconds second = sys_seconds::min();
    std::string text;  // "2026-11-24T01:02:03"
  };
  thread_local SecondText last;
  if (seconds != last.second) {
    // From the calendar types, not fmt's chrono formatting, which goes through nanoseconds and
    // overflows past the year 2262 (found by fuzz_rfc3339).
    const auto day = floor<days>(seconds);
    const year_month_day date{day};
    const hh_mm_ss<std::chrono::seconds> time_of_day{seconds - day};
    last.text = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                            static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                            time_of_day.hours().count(), time_of_day.minutes().count(),
                            time_of_day.seconds().count());
    last.second = seconds;
  }
  const auto digit = [](auto value) { return static_cast<char>('0' + value); };
  const char fraction[] = {'.', digit(millis / 100), digit(millis / 10 % 10), digit(millis % 10),
                           'Z'};
  std::string formatted;
  formatted.reserve(last.text.size() + sizeof fraction);
  formatted.append(last.text).append(fraction, sizeof fraction);
  return formatted;
}

}  // namespace sluice

namespace sluice {
namespace {

// Reads exactly `width` decimal digits at text[pos]; false if any is not a digit.
bool read_digits(std::string_view text, size_t pos, size_t width, int& out) {
  if (pos + width > text.size()) return false;
  int value = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  out = value;
  return true;
}

}  // namespace

bool parse_rfc3339(std::string_view text, Micros& out) {
  using namespace std::chrono;
  int year, month, day, hour, minute, second;
  if (!read_digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_digits(text, 11, 2, hour) ||
      text[13] != ':' || !read_digits(text, 14, 2, minute) || text[16] != ':' ||
      !read_digits(text, 17, 2, second)) {
    return false;
  }
  const year_month_day date{std::chrono::year(year),
                            std::chrono::month(static_cast<unsigned>(month)),
                            std::chrono::day(static_cast<unsigned>(day))};
  // Second 60 is a leap second; it is folded into the next minute's first second.
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return false;

  size_t pos = 19;
  std::int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const size_t start = pos;
    std::int64_t scale = 100000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      micros += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return false;
  }

  std::int64_t offset_minutes = 0;
  if (pos >= text.size()) return false;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int offset_hour, offset_minute;
    if (!read_digits(text, pos + 1, 2, offset_hour) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !read_digits(text, pos + 4, 2, offset_minute) || offset_hour > 23 ||
        offset_minute > 59) {
      return false;
    }
    offset_minutes = std::int64_t{offset_hour * 60 + offset_minute} * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != text.size()) return false;

  const std::int64_t seconds_since_epoch = sys_days(date).time_since_epoch().count() * 86400LL +
                                           hour * 3600LL + minute * 60LL + second -
                                           offset_minutes * 60LL;
  // An offset can carry 0001-01-01 or 9999-12-31 across the four-digit years RFC 3339 allows;
  // such an instant has no RFC 3339 form in UTC, so it is refused rather than stored.
  const std::int64_t first = sys_days(std::chrono::year(1) / 1 / 1).time_since_epoch().count();
  const std::int64_t last = sys_days(std::chrono::year(10000) / 1 / 1).time_since_epoch().count();
  if (seconds_since_epoch < first * 86400LL || seconds_since_epoch >= last * 86400LL) return false;
  out = seconds_since_epoch * 1'000'000 + micros;
  return true;
}

}  // namespace sluice
