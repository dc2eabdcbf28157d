// Encoding and decoding the history chunk a process_event instance writes when it starts:
// ExecutionStarted with the event envelope, and three TaskScheduled handing it to stats, alerts
// and logging. With references (format 2) the envelope is stored once; the reported
// bytes_per_chunk shows it.

#include <benchmark/benchmark.h>

#include "engine/history.h"
#include "engine/instance_record.h"

namespace sluice::engine {
namespace {

std::vector<HistoryEvent> start_chunk() {
  const std::string envelope =
      R"({"received_at":"2026-11-24T06:43:46.123Z","event":{"event_id":"e-1234567","stream_id":)"
      R"("stream-42","type":"subscription","user_id":"u-981","user_name":"viewer981","tier":"2000",)"
      R"("months":7,"gifted":false,"occurred_at":"2026-11-24T06:43:46.000Z"}})";
  std::vector<HistoryEvent> events = {
      {EventType::kOrchestratorStarted, 1, -1, "", "", 0},
      {EventType::kExecutionStarted, 1, 0, "process_event", envelope, 0}};
  std::int64_t task = 0;
  for (const char* activity : {"stats", "alerts", "logging"}) {
    events.push_back({EventType::kTaskScheduled, 1, task++, activity, envelope, 0});
  }
  return events;
}

void BM_EncodeStartChunk(benchmark::State& state) {
  const auto events = start_chunk();
  std::size_t size = 0;
  for (auto _ : state) {
    std::string encoded;
    encode_events(events, encoded);
    size = encoded.size();
    benchmark::DoNotOptimize(encoded);
  }
  state.counters["bytes_per_chunk"] = static_cast<double>(size);
}
BENCHMARK(BM_EncodeStartChunk);

void BM_DecodeStartChunk(benchmark::State& state) {
  std::string encoded;
  encode_events(start_chunk(), encoded);
  for (auto _ : state) {
    std::vector<HistoryEvent> events;
    benchmark::DoNotOptimize(decode_events(encoded, events));
  }
}
BENCHMARK(BM_DecodeStartChunk);

void BM_EncodeRecord(benchmark::State& state) {
  InstanceRecord record{"e-1234567",
                        "process_event",
                        RuntimeStatus::kRunning,
                        std::string(300, 'x'),
                        "",
                        "",
                        1,
                        2,
                        1,
                        "",
                        -1,
                        3};
  std::size_t size = 0;
  for (auto _ : state) {
    std::string encoded = encode_record(record);
    size = encoded.size();
    benchmark::DoNotOptimize(encoded);
  }
  state.counters["bytes_per_record"] = static_cast<double>(size);
}
BENCHMARK(BM_EncodeRecord);

}  // namespace
}  // namespace sluice::engine
