// What each process_event activity pays to read its input: opening the envelope by position
// (current) against parsing it as JSON and serialising the event again (before), and reading the
// event's facts, which every activity does after either.

#include <benchmark/benchmark.h>

#include <boost/json.hpp>

#include "pipeline/envelope.h"
#include "pipeline/event.h"
#include "pipeline/traffic.h"

namespace sluice::pipeline {
namespace {

std::string sample_envelope() {
  Traffic traffic("event-", "stream-", 10, 1);
  traffic.next();
  traffic.next();  // a subscription: several fields
  return make_envelope(traffic.next(), 1'795'000'000'000'000);
}

void BM_OpenEnvelope(benchmark::State& state) {
  const std::string envelope = sample_envelope();
  for (auto _ : state) {
    auto opened = open_envelope(envelope);
    std::string event(opened->event_json);  // the activities keep a copy for the alert feed
    benchmark::DoNotOptimize(event);
  }
}
BENCHMARK(BM_OpenEnvelope);

void BM_ParseEnvelopeAsJson(benchmark::State& state) {
  const std::string envelope = sample_envelope();
  for (auto _ : state) {
    boost::json::value parsed = boost::json::parse(envelope);
    Micros received_at = 0;
    parse_rfc3339(parsed.at("received_at").as_string(), received_at);
    std::string event = boost::json::serialize(parsed.at("event"));
    benchmark::DoNotOptimize(event);
  }
}
BENCHMARK(BM_ParseEnvelopeAsJson);

void BM_ReadEventFacts(benchmark::State& state) {
  const std::string envelope = sample_envelope();
  const std::string_view event = open_envelope(envelope)->event_json;
  for (auto _ : state) {
    auto facts = read_event_facts(event);
    benchmark::DoNotOptimize(facts);
  }
}
BENCHMARK(BM_ReadEventFacts);

}  // namespace
}  // namespace sluice::pipeline
