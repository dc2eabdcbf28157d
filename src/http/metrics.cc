#include "http/metrics.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

namespace sluice::http {

void Metrics::instance_finished(engine::RuntimeStatus status, std::optional<Micros> latency) {
  switch (status) {
    case engine::RuntimeStatus::kCompleted:
      completed_.fetch_add(1, std::memory_order_relaxed);
      break;
    case engine::RuntimeStatus::kFailed:
      failed_.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      terminated_.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  if (!latency) return;
  const Micros value = std::max<Micros>(0, *latency);
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), value) -
      kLatencyBuckets.begin());
  latency_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_micros_.fetch_add(static_cast<std::uint64_t>(value), std::memory_order_relaxed);
}

std::string Metrics::render(const Gauges& gauges) const {
  auto out = fmt::memory_buffer();
  auto line = [&out](std::string_view text) {
    out.append(text);
    out.push_back('\n');
  };
  line(
      "# HELP sluice_events_accepted_total Events accepted into the intake queue (duplicates not "
      "counted).");
  line("# TYPE sluice_events_accepted_total counter");
  line(fmt::format("sluice_events_accepted_total {}", accepted_.load()));
  line(
      "# HELP sluice_instances_finished_total Orchestration instances that reached a final "
      "status.");
  line("# TYPE sluice_instances_finished_total counter");
  line(
      fmt::format("sluice_instances_finished_total{{status=\"Completed\"}} {}", completed_.load()));
  line(fmt::format("sluice_instances_finished_total{{status=\"Failed\"}} {}", failed_.load()));
  line(fmt::format("sluice_instances_finished_total{{status=\"Terminated\"}} {}",
                   terminated_.load()));
  line(
      "# HELP sluice_event_latency_seconds From an event's receipt to its instance's durable end "
      "(receipt times have millisecond resolution).");
  line("# TYPE sluice_event_latency_seconds histogram");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += latency_counts_[i].load();
    line(fmt::format("sluice_event_latency_seconds_bucket{{le=\"{}\"}} {}",
                     static_cast<double>(kLatencyBuckets[i]) / 1e6, cumulative));
  }
  cumulative += latency_counts_.back().load();
  line(fmt::format("sluice_event_latency_seconds_bucket{{le=\"+Inf\"}} {}", cumulative));
  line(fmt::format("sluice_event_latency_seconds_sum {}",
                   static_cast<double>(latency_sum_micros_.load()) / 1e6));
  line(fmt::format("sluice_event_latency_seconds_count {}", cumulative));
  line("# HELP sluice_intake_queue_depth Events waiting in the intake queue or being started.");
  line("# TYPE sluice_intake_queue_depth gauge");
  line(fmt::format("sluice_intake_queue_depth {}", gauges.queue_depth));
  line("# HELP sluice_instances_running Orchestration instances started and not yet finished.");
  line("# TYPE sluice_instances_running gauge");
  line(fmt::format("sluice_instances_running {}", gauges.running));

  const ProcessUsage usage = read_process_usage();
  line("# HELP process_cpu_seconds_total User and system CPU time spent.");
  line("# TYPE process_cpu_seconds_total counter");
  line(fmt::format("process_cpu_seconds_total {}", usage.cpu_seconds));
  line("# HELP process_resident_memory_bytes Resident memory size.");
  line("# TYPE process_resident_memory_bytes gauge");
  line(fmt::format("process_resident_memory_bytes {}", usage.resident_bytes));
  line("# HELP sluice_process_peak_resident_memory_bytes Largest resident memory size so far.");
  line("# TYPE sluice_process_peak_resident_memory_bytes gauge");
  line(fmt::format("sluice_process_peak_resident_memory_bytes {}", usage.peak_resident_bytes));
  if (usage.disk_written_bytes >= 0) {
    line(
        "# HELP sluice_process_disk_written_bytes_total Bytes the process caused to be written "
        "to storage.");
    line("# TYPE sluice_process_disk_written_bytes_total counter");
    line(fmt::format("sluice_process_disk_written_bytes_total {}", usage.disk_written_bytes));
  }
  return fmt::to_string(out);
}

namespace {

std::string read_file(const char* path) {
  std::ifstream file(path);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

// The number after `key` in the text of a "key: value" file of /proc; -1 if absent.
std::int64_t proc_field(std::string_view text, std::string_view key) {
  const std::size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  std::size_t pos = at + key.size();
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  std::int64_t value = 0;
  bool any = false;
  for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, any = true) {
    value = value * 10 + (text[pos] - '0');
  }
  return any ? value : -1;
}

}  // namespace

ProcessUsage read_process_usage() {
  ProcessUsage usage;
  rusage self{};
  if (getrusage(RUSAGE_SELF, &self) == 0) {
    usage.cpu_seconds = static_cast<double>(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
                        static_cast<double>(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6;
  }
  // Both from one read, so the peak is never below the current size.
  const std::string status = read_file("/proc/self/status");
  if (const std::int64_t kib = proc_field(status, "VmRSS:"); kib >= 0) {
    usage.resident_bytes = kib * 1024;
  }
  if (const std::int64_t kib = proc_field(status, "VmHWM:"); kib >= 0) {
    usage.peak_resident_bytes = kib * 1024;
  }
  usage.disk_written_bytes = proc_field(read_file("/proc/self/io"), "\nwrite_bytes:");
  return usage;
}

}  // namespace sluice::http
