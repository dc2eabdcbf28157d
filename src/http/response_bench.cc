// Every accepted event is answered with a check-status body, and every request ends in putting its
// answer on the wire: both showed in the HTTP threads' profile of the one-event-per-request
// benchmark. The body was a JSON object built and serialized; it is formatted directly now
// (check_status_body). Beast's serializer hands the socket a view over the status line, each
// field and the body, and walking that view range by range cost more than the send's copy; the
// server formats the answer into one buffer instead (wire_format). Both pairs are measured here
// on the answer to an accepted event, the serializer's output copied into one string as a send
// copies it.

#include <benchmark/benchmark.h>

#include <boost/json.hpp>

#include "http/beast_serialized.h"
#include "http/json_response.h"
#include "http/management_api.h"

namespace sluice::http {
namespace {

const UriBase kBase{"http://127.0.0.1:7070", ""};
constexpr std::string_view kId = "bench18c2f3a1b-e123456";

Response accepted_event() {
  Response response = check_status_response(kBase, kId, false);
  response.keep_alive(true);
  response.set(beast_http::field::server, "sluice");
  return response;
}

// The check-status body as it was built before: a JSON object, then serialized.
void BM_CheckStatusAsJsonObject(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(boost::json::serialize(check_status_object(kBase, kId, false)));
  }
}
BENCHMARK(BM_CheckStatusAsJsonObject);

void BM_CheckStatusFormatted(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(check_status_body(kBase, kId, false));
}
BENCHMARK(BM_CheckStatusFormatted);

void BM_BeastSerializer(benchmark::State& state) {
  const Response response = accepted_event();
  for (auto _ : state) benchmark::DoNotOptimize(beast_serialized(response));
}
BENCHMARK(BM_BeastSerializer);

void BM_WireFormat(benchmark::State& state) {
  const Response response = accepted_event();
  for (auto _ : state) benchmark::DoNotOptimize(wire_format(response));
}
BENCHMARK(BM_WireFormat);

}  // namespace
}  // namespace sluice::http
