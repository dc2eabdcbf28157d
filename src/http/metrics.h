#pragma once

// Metrics: what GET /metrics reports, in Prometheus text format — events accepted, instances
// finished by status, each event's latency from receipt to its instance's durable end, the
// intake queue, and the process's own memory, CPU time and bytes written to disk.
//
// Counters are atomics: the HTTP threads and the engine's partition threads update them without
// a lock. Figures only ever grow, so a reader subtracts two scrapes to get one interval's.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/clock.h"
#include "engine/instance_record.h"

namespace sluice::http {

// Upper bounds of the latency histogram's buckets, in microseconds (the last one is +Inf).
inline constexpr std::array<Micros, 31> kLatencyBuckets = {
    1'000,     2'000,     3'000,     4'000,     5'000,      6'000,      8'000,     10'000,
    12'000,    15'000,    20'000,    25'000,    30'000,     40'000,     50'000,    75'000,
    100'000,   150'000,   200'000,   300'000,   400'000,    500'000,    750'000,   1'000'000,
    1'500'000, 2'000'000, 3'000'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000};

// What the caller reads from the other modules at scrape time.
struct Readings {
  std::int64_t queue_depth = 0;
  std::int64_t running = 0;
  std::uint64_t commit_failures = 0;  // the engine's, since start
  std::uint64_t id_conflicts = 0;     // the intake queue's, since start
};

class Metrics {
 public:
  void events_accepted(std::size_t count) { accepted_.fetch_add(count, std::memory_order_relaxed); }
  // `record` has just reached a terminal status; `latency` is from its event's receipt, when it
  // had one.
  void instance_finished(engine::RuntimeStatus status, std::optional<Micros> latency);

  std::string render(const Readings& readings) const;

 private:
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> completed_{0}, failed_{0}, terminated_{0};
  std::array<std::atomic<std::uint64_t>, kLatencyBuckets.size() + 1> latency_counts_{};
  std::atomic<std::uint64_t> latency_sum_micros_{0};
};

// The process's own resource use, from getrusage and /proc/self; absent figures stay at -1.
struct ProcessUsage {
  std::int64_t resident_bytes = -1;
  std::int64_t peak_resident_bytes = -1;
  double cpu_seconds = -1;
  std::int64_t disk_written_bytes = -1;  // what the process caused to be written to storage
};
ProcessUsage read_process_usage();

// CPU seconds (user and system) of the process's live threads, summed per thread name — the
// partitions, the intake appender, RocksDB's flush threads, and so on. Threads that have ended
// are not counted. Empty where /proc is not readable.
std::map<std::string, double> read_thread_cpu();

}  // namespace sluice::http
