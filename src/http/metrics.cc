#include "http/metrics.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
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

namespace {

// `text` as a Prometheus label value: backslash, quote and newline escaped.
std::string label_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string Metrics::render(const Readings& readings) const {
  auto out = fmt::memory_buffer();
  // A metric family's HELP and TYPE lines, and its samples.
  auto family = [&out](std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto sample = [&out](std::string_view name, const auto& value) {
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
  };
  auto single = [&](std::string_view name, std::string_view type, std::string_view help,
                    const auto& value) {
    family(name, type, help);
    sample(name, value);
  };

  single("sluice_events_accepted_total", "counter",
         "Events accepted into the intake queue (duplicates not counted).", accepted_.load());
  family("sluice_instances_finished_total", "counter",
         "Orchestration instances that reached a final status.");
  sample(R"(sluice_instances_finished_total{status="Completed"})", completed_.load());
  sample(R"(sluice_instances_finished_total{status="Failed"})", failed_.load());
  sample(R"(sluice_instances_finished_total{status="Terminated"})", terminated_.load());
  family("sluice_event_latency_seconds", "histogram",
         "From an event's receipt to its instance's durable end (receipt times have millisecond "
         "resolution).");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += latency_counts_[i].load();
    sample(fmt::format("sluice_event_latency_seconds_bucket{{le=\"{}\"}}",
                       static_cast<double>(kLatencyBuckets[i]) / 1e6),
           cumulative);
  }
  cumulative += latency_counts_.back().load();
  sample(R"(sluice_event_latency_seconds_bucket{le="+Inf"})", cumulative);
  sample("sluice_event_latency_seconds_sum", static_cast<double>(latency_sum_micros_.load()) / 1e6);
  sample("sluice_event_latency_seconds_count", cumulative);
  single("sluice_intake_queue_depth", "gauge",
         "Events waiting in the intake queue or being started.", readings.queue_depth);
  single("sluice_instances_running", "gauge",
         "Orchestration instances started and not yet finished.", readings.running);
  single("sluice_engine_commit_failures_total", "counter",
         "Partition turns whose commit storage refused (a full disk, say); each is tried again.",
         readings.commit_failures);
  single("sluice_intake_id_conflicts_total", "counter",
         "Group commits of ingest that met an event id another node had just accepted; each was "
         "checked again, the id answered as a duplicate.",
         readings.id_conflicts);

  const ProcessUsage usage = read_process_usage();
  single("process_cpu_seconds_total", "counter", "User and system CPU time spent.",
         usage.cpu_seconds);
  single("process_resident_memory_bytes", "gauge", "Resident memory size.", usage.resident_bytes);
  single("sluice_process_peak_resident_memory_bytes", "gauge",
         "Largest resident memory size so far.", usage.peak_resident_bytes);
  if (usage.disk_written_bytes >= 0) {
    single("sluice_process_disk_written_bytes_total", "counter",
           "Bytes the process caused to be written to storage.", usage.disk_written_bytes);
  }
  const auto threads = read_thread_cpu();
  if (!threads.empty()) {
    family("sluice_thread_cpu_seconds_total", "counter",
           "User and system CPU time of the live threads, per thread name.");
    for (const auto& [name, seconds] : threads) {
      sample(fmt::format("sluice_thread_cpu_seconds_total{{thread=\"{}\"}}", label_value(name)),
             seconds);
    }
  }
  return fmt::to_string(out);
}

namespace {

// A small file of /proc, whole; empty if it cannot be read. Plain reads: /metrics reads one per
// thread, and a stream per file cost more than the reading.
std::string read_file(const char* path) {
  std::string text;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[4096];
  for (ssize_t got; (got = ::read(fd, buffer, sizeof buffer)) > 0;) {
    text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return text;
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

std::map<std::string, double> read_thread_cpu() {
  std::map<std::string, double> seconds;
  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", error)) {
    // "TID (NAME) STATE ..." with utime and stime the 12th and 13th fields after the name,
    // which may itself hold spaces and parentheses: it ends at the last ')'.
    const std::string stat = read_file((task.path() / "stat").c_str());
    const std::size_t open = stat.find('(');
    const std::size_t close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    double utime = -1, stime = -1;
    const char* field = stat.c_str() + close + 1;
    for (int index = 1; index <= 13 && *field != '\0'; ++index) {
      while (*field == ' ') ++field;
      if (index == 12) utime = std::strtod(field, nullptr);
      if (index == 13) stime = std::strtod(field, nullptr);
      while (*field != ' ' && *field != '\0') ++field;
    }
    if (utime < 0 || stime < 0) continue;  // the thread ended while it was read
    seconds[stat.substr(open + 1, close - open - 1)] += (utime + stime) / ticks_per_second;
  }
  return seconds;
}

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
