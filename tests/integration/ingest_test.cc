// POST /api/events and friends, against the real binary over HTTP. Processing is paused
// (pipeline.paused) so that the queue holds exactly what was accepted.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;
using testing::ServerProcess;

class IngestTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> args = {}) {
    client_.reset();
    server_.reset();  // one server per data directory at a time
    args.insert(args.end(), {"--set", "pipeline.paused=true"});
    server_ = std::make_unique<ServerProcess>(data_.str(), std::move(args));
    ASSERT_TRUE(server_->started()) << server_->log();
    client_ = std::move(http::Client::create(server_->url()).value());
  }
  void SetUp() override { start(); }

  http::ClientResponse post(std::string_view body, std::string_view type = "application/json") {
    auto response = client_->post("/api/events", body, type);
    EXPECT_TRUE(response.ok()) << response.status().to_string();
    return response.ok() ? std::move(response).value() : http::ClientResponse{};
  }
  json::object post_json(std::string_view body, unsigned expected_status,
                         std::string_view type = "application/json") {
    http::ClientResponse response = post(body, type);
    EXPECT_EQ(response.status, expected_status) << body << " → " << response.body;
    boost::system::error_code error;
    json::value parsed = json::parse(response.body, error);
    EXPECT_FALSE(error) << response.body;
    return parsed.is_object() ? parsed.get_object() : json::object{};
  }
  // The error object of a refused request, after checking its status.
  json::object refused(std::string_view body, unsigned expected_status,
                       std::string_view type = "application/json") {
    json::object answer = post_json(body, expected_status, type);
    EXPECT_TRUE(answer.contains("error")) << json::serialize(answer);
    return answer.contains("error") ? answer.at("error").as_object() : json::object{};
  }
  std::int64_t depth() {
    auto response = client_->get("/api/queue");
    EXPECT_TRUE(response.ok());
    return json::parse(response->body).at("depth").as_int64();
  }

  testing::TempDirectory data_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(IngestTest, AcceptsEveryEventTypeWithDurableFunctionsStyleAnswer) {
  const char* events[] = {
      R"({"event_id":"f-1","stream_id":"s1","type":"follower","user_name":"ana"})",
      R"({"event_id":"s-1","stream_id":"s1","type":"subscription","tier":"2000","gifted":true})",
      R"({"event_id":"d-1","stream_id":"s1","type":"donation","amount":"4.99","currency":"USD"})",
      R"({"event_id":"c-1","stream_id":"s1","type":"cheer","bits":250})",
  };
  for (const char* event : events) {
    http::ClientResponse response = post(event);
    ASSERT_EQ(response.status, 202u) << response.body;
    json::object answer = json::parse(response.body).as_object();
    const std::string id(answer.at("id").as_string());
    EXPECT_EQ(json::parse(event).at("event_id").as_string(), id);
    EXPECT_EQ(answer.at("duplicate"), false);
    const std::string status_uri(answer.at("statusQueryGetUri").as_string());
    EXPECT_TRUE(status_uri.ends_with("/runtime/webhooks/durabletask/instances/" + id))
        << status_uri;
    EXPECT_EQ(response.headers[boost::beast::http::field::location], status_uri);
    for (const char* key : {"sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"}) {
      EXPECT_TRUE(answer.at(key).as_string().starts_with(status_uri)) << key;
    }
  }
  EXPECT_EQ(depth(), 4);
}

TEST_F(IngestTest, WaitGivesUpWithTheUsualAnswerWhileNothingIsProcessed) {
  auto response = client_->post("/api/events?wait=1",
                                R"({"event_id":"w-1","stream_id":"s1","type":"follower"})");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 202u) << response->body;  // processing is paused
  EXPECT_EQ(json::parse(response->body).at("id"), "w-1");
  EXPECT_EQ(depth(), 1);
}

TEST_F(IngestTest, AFullQueueAnswers503WithRetryAfterAndKeepsWhatItHas) {
  start({"--set", "queue.max_depth=3"});
  post_json(R"([{"event_id":"q-1","stream_id":"s1","type":"follower"},
                {"event_id":"q-2","stream_id":"s1","type":"follower"}])",
            202);
  auto full = post(R"([{"event_id":"q-3","stream_id":"s1","type":"follower"},
                      {"event_id":"q-4","stream_id":"s1","type":"follower"}])");
  EXPECT_EQ(full.status, 503u) << full.body;
  EXPECT_EQ(full.headers["Retry-After"], "1");
  EXPECT_EQ(json::parse(full.body).at("error").at("code"), "unavailable");
  EXPECT_NE(full.body.find("queue.max_depth"), std::string::npos) << full.body;
  EXPECT_EQ(depth(), 2);
  post_json(R"({"event_id":"q-3","stream_id":"s1","type":"follower"})", 202);  // one still fits
  EXPECT_EQ(depth(), 3);
}

TEST_F(IngestTest, GeneratesIdsForEventsWithoutOne) {
  json::object first = post_json(R"({"stream_id":"s1","type":"follower"})", 202);
  json::object second = post_json(R"({"stream_id":"s1","type":"follower"})", 202);
  EXPECT_NE(first.at("id"), second.at("id"));
  EXPECT_EQ(depth(), 2);
}

TEST_F(IngestTest, AcceptsJsonArraysAndNdjson) {
  json::object array = post_json(R"([{"event_id":"a1","stream_id":"s1","type":"follower"},)"
                                 R"({"event_id":"a2","stream_id":"s2","type":"cheer","bits":1}])",
                                 202);
  EXPECT_EQ(array.at("accepted"), 2);
  EXPECT_EQ(array.at("duplicates"), 0);
  EXPECT_EQ(array.at("ids"), json::parse(R"(["a1","a2"])"));

  json::object lines = post_json(
      "{\"event_id\":\"n1\",\"stream_id\":\"s1\",\"type\":\"follower\"}\n"
      "{\"event_id\":\"n2\",\"stream_id\":\"s1\",\"type\":\"donation\",\"amount\":10,\"currency\":"
      "\"EUR\"}\n",
      202, "application/x-ndjson");
  EXPECT_EQ(lines.at("accepted"), 2);
  EXPECT_EQ(depth(), 4);
}

TEST_F(IngestTest, RepeatedEventIdIsReportedAndNotQueuedAgain) {
  const char* event = R"({"event_id":"dup-1","stream_id":"s1","type":"follower"})";
  EXPECT_EQ(post_json(event, 202).at("duplicate"), false);
  EXPECT_EQ(post_json(event, 202).at("duplicate"), true);
  json::object batch = post_json(R"([{"event_id":"dup-1","stream_id":"s1","type":"follower"},)"
                                 R"({"event_id":"dup-2","stream_id":"s1","type":"follower"},)"
                                 R"({"event_id":"dup-2","stream_id":"s1","type":"follower"}])",
                                 202);
  EXPECT_EQ(batch.at("accepted"), 1);
  EXPECT_EQ(batch.at("duplicates"), 2);
  EXPECT_EQ(depth(), 2);

  // Still known after a restart.
  ASSERT_EQ(server_->stop().code, 0);
  start();
  EXPECT_EQ(post_json(event, 202).at("duplicate"), true);
  EXPECT_EQ(depth(), 2);
}

TEST_F(IngestTest, BatchIsAllOrNothing) {
  json::object error = refused(
      R"([{"event_id":"ok-1","stream_id":"s1","type":"follower"},)"
      R"({"event_id":"bad-1","stream_id":"s1","type":"donation","amount":"1.001","currency":"USD"}])",
      400);
  EXPECT_EQ(error.at("code"), "invalid_field");
  EXPECT_EQ(error.at("field"), "amount");
  EXPECT_EQ(error.at("index"), 1);
  error = refused("{\"event_id\":\"ok-2\",\"stream_id\":\"s1\",\"type\":\"follower\"}\nnot json\n",
                  400, "application/x-ndjson");
  EXPECT_EQ(error.at("code"), "malformed_json");
  EXPECT_EQ(error.at("index"), 1);
  EXPECT_EQ(depth(), 0);
  // Neither good event was remembered as accepted.
  EXPECT_EQ(
      post_json(R"({"event_id":"ok-1","stream_id":"s1","type":"follower"})", 202).at("duplicate"),
      false);
}

TEST_F(IngestTest, RefusesInvalidEventsNamingTheField) {
  struct Case {
    const char* body;
    const char* code;
    const char* field;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"type":"follower"})", "missing_field", "stream_id"},
           {R"({"stream_id":"s1","type":"raid"})", "invalid_field", "type"},
           {R"({"stream_id":"../etc","type":"follower"})", "invalid_field", "stream_id"},
           {R"({"stream_id":"s1","type":"donation","amount":"-1","currency":"USD"})",
            "invalid_field", "amount"},
           {R"({"stream_id":"s1","type":"donation","amount":"1","currency":"XYZ"})",
            "invalid_field", "currency"},
           {R"({"stream_id":"s1","type":"cheer","bits":"many"})", "invalid_field", "bits"},
           {R"({"stream_id":"s1","type":"follower","occurred_at":"noon"})", "invalid_field",
            "occurred_at"},
           {R"({"stream_id":"s1","type":"follower")", "malformed_json", ""},
       }) {
    json::object error = refused(c.body, 400);
    EXPECT_EQ(error.at("code"), c.code) << c.body;
    if (*c.field) {
      EXPECT_EQ(error.at("field"), c.field) << c.body;
    } else {
      EXPECT_TRUE(error.at("field").is_null()) << c.body;
    }
    EXPECT_FALSE(error.at("message").as_string().empty());
  }
  EXPECT_EQ(depth(), 0);
}

TEST_F(IngestTest, RefusesWrongMediaTypesRoutesAndMethods) {
  json::object error = refused(R"({"stream_id":"s1","type":"follower"})", 415, "text/plain");
  EXPECT_EQ(error.at("field"), "Content-Type");
  EXPECT_EQ(client_->get("/api/events")->status, 405u);
  EXPECT_EQ(client_->get("/nowhere")->status, 404u);
  EXPECT_EQ(client_->get("/healthz")->status, 200u);
  EXPECT_EQ(depth(), 0);
}

TEST_F(IngestTest, EnforcesBodyBatchAndHeaderLimits) {
  start({"--set", "http.max_body_bytes=2048", "--set", "http.max_batch_events=2", "--set",
         "http.max_header_bytes=1024"});
  const std::string big =
      R"({"stream_id":"s1","type":"follower","message":")" + std::string(3000, 'x') + "\"}";
  EXPECT_EQ(refused(big, 413).at("code"), "body_too_large");

  client_ = std::move(http::Client::create(server_->url()).value());
  const std::string line = "{\"stream_id\":\"s1\",\"type\":\"follower\"}\n";
  EXPECT_EQ(refused(line + line + line, 413, "application/x-ndjson").at("code"), "batch_too_large");

  // Raw socket: a header larger than allowed.
  boost::asio::io_context context;
  boost::asio::ip::tcp::socket socket(context);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  const std::string request =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string answer(512, '\0');
  boost::system::error_code ignored;
  const size_t read = socket.read_some(boost::asio::buffer(answer), ignored);
  EXPECT_TRUE(answer.substr(0, read).starts_with("HTTP/1.1 431")) << answer.substr(0, read);
  EXPECT_EQ(depth(), 0);
}

TEST_F(IngestTest, MalformedHttpGetsBadRequest) {
  boost::asio::io_context context;
  boost::asio::ip::tcp::socket socket(context);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  boost::asio::write(socket, boost::asio::buffer(std::string("NOT HTTP AT ALL\r\n\r\n")));
  std::string answer(512, '\0');
  boost::system::error_code ignored;
  const size_t read = socket.read_some(boost::asio::buffer(answer), ignored);
  EXPECT_TRUE(answer.substr(0, read).starts_with("HTTP/1.1 400")) << answer.substr(0, read);
}

TEST_F(IngestTest, AClientTricklingBytesIsCutOff) {
  start({"--set", "http.read_timeout_seconds=1"});
  boost::asio::io_context context;
  boost::asio::ip::tcp::socket socket(context);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  const std::string request =
      "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n\r\n"
      R"({"stream_id":"s1","type":"follower"})";
  // One byte every 100 ms would take seconds; the server must hang up long before the end.
  boost::system::error_code error;
  std::size_t sent = 0;
  for (; sent < request.size() && !error; ++sent) {
    boost::asio::write(socket, boost::asio::buffer(&request[sent], 1), error);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string answer(512, '\0');
  const size_t read = socket.read_some(boost::asio::buffer(answer), error);
  EXPECT_TRUE(error == boost::asio::error::eof || error == boost::asio::error::connection_reset ||
              sent < request.size())
      << "answered: " << answer.substr(0, read);
  EXPECT_LT(sent, request.size()) << "the whole request got through";
  EXPECT_EQ(depth(), 0);
}

TEST_F(IngestTest, ConnectionsBeyondTheLimitGet503) {
  start({"--set", "http.max_connections=2"});
  auto first = http::Client::create(server_->url()).value();
  auto second = http::Client::create(server_->url()).value();
  ASSERT_EQ(first->get("/healthz")->status, 200u);  // both now held open, kept alive
  ASSERT_EQ(second->get("/healthz")->status, 200u);
  auto third = http::Client::create(server_->url()).value();
  auto refused = third->get("/healthz");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 503u);
  EXPECT_EQ(json::parse(refused->body).at("error").at("code"), "too_many_connections");
  EXPECT_EQ(refused->headers["Retry-After"], "1");
  first.reset();  // a place comes free
  EXPECT_TRUE(testing::eventually([&] {
    auto again = http::Client::create(server_->url()).value()->get("/healthz");
    return again.ok() && again->status == 200;
  })) << "no place came free";
}

TEST_F(IngestTest, AnswersExpectContinueBeforeTheBody) {
  boost::asio::io_context context;
  boost::asio::ip::tcp::socket socket(context);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
  const std::string body = R"({"event_id":"x1","stream_id":"s1","type":"follower"})";
  const std::string head =
      "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(head));
  std::string interim(25, '\0');
  boost::asio::read(socket, boost::asio::buffer(interim));  // "HTTP/1.1 100 Continue\r\n\r\n"
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  boost::asio::write(socket, boost::asio::buffer(body));
  std::string answer(64, '\0');
  const size_t read = socket.read_some(boost::asio::buffer(answer));
  EXPECT_TRUE(answer.substr(0, read).starts_with("HTTP/1.1 202")) << answer.substr(0, read);
  EXPECT_EQ(depth(), 1);
}

TEST_F(IngestTest, QueueReportsDepthAgeAndDeadLetters) {
  post_json(R"({"event_id":"q1","stream_id":"s1","type":"follower"})", 202);
  auto response = client_->get("/api/queue");
  ASSERT_TRUE(response.ok());
  json::object queue = json::parse(response->body).as_object();
  EXPECT_EQ(queue.at("name"), "alerts");
  EXPECT_EQ(queue.at("depth"), 1);
  EXPECT_TRUE(queue.at("oldest_age_ms").is_int64()) << queue;  // null only when empty
  EXPECT_EQ(queue.at("in_flight"), 0);
  EXPECT_EQ(queue.at("deadletter").at("name"), "alerts-deadletter");
  EXPECT_EQ(queue.at("deadletter").at("count"), 0);
}

TEST_F(IngestTest, QueueNamesAreSettings) {
  start({"--set", "queue.name=intake", "--set", "queue.deadletter=intake-dead"});
  auto queue = json::parse(client_->get("/api/queue")->body);
  EXPECT_EQ(queue.at("name"), "intake");
  EXPECT_EQ(queue.at("deadletter").at("name"), "intake-dead");
}

TEST_F(IngestTest, StopsGracefullyWithIdleConnectionsOpen) {
  // A long read timeout: if stop waited for idle keep-alive connections, this test would hang.
  start({"--set", "http.read_timeout_seconds=3600"});
  post_json(R"({"event_id":"g1","stream_id":"s1","type":"follower"})", 202);
  auto idle = std::move(http::Client::create(server_->url()).value());
  ASSERT_EQ(idle->get("/healthz")->status, 200u);  // leaves a kept-alive, idle connection
  testing::ExitResult exit = server_->stop();
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.code, 0) << server_->log();
  start();
  EXPECT_EQ(depth(), 1);
}

TEST_F(IngestTest, ServesTheManagementApi) {
  auto unknown = client_->get("/runtime/webhooks/durabletask/instances/nobody");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 404u);
  auto no_orchestrator = client_->post("/runtime/webhooks/durabletask/orchestrators/nothing", "{}");
  ASSERT_TRUE(no_orchestrator.ok());
  EXPECT_EQ(no_orchestrator->status, 404u);
  EXPECT_EQ(json::parse(no_orchestrator->body).at("error").at("field"), "name");
  auto listed = client_->get("/runtime/webhooks/durabletask/instances");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->status, 200u);
  EXPECT_EQ(listed->body, "[]");
}

TEST_F(IngestTest, SendCommandPostsEventsAndPrintsIds) {
  auto one =
      testing::run_sluice({"send", "--url", server_->url(), "--stream", "s1", "--type", "donation",
                           "--amount", "2.50", "--currency", "USD", "--event-id", "cli-1"});
  EXPECT_EQ(one.exit.code, 0) << one.output;
  EXPECT_EQ(one.output, "cli-1\n");

  auto lines = testing::run_sluice(
      {"send", "--url", server_->url(), "--file", "-"},
      "{\"event_id\":\"cli-2\",\"stream_id\":\"s1\",\"type\":\"follower\"}\n"
      "{\"event_id\":\"cli-3\",\"stream_id\":\"s1\",\"type\":\"cheer\",\"bits\":3}\n");
  EXPECT_EQ(lines.exit.code, 0) << lines.output;
  EXPECT_EQ(lines.output, "cli-2\ncli-3\n");
  EXPECT_EQ(depth(), 3);

  auto bad =
      testing::run_sluice({"send", "--url", server_->url(), "--stream", "s1", "--type", "raid"});
  EXPECT_EQ(bad.exit.code, 1);
  EXPECT_NE(bad.output.find("\"field\":\"type\""), std::string::npos) << bad.output;
}

class ConfigurationTest : public ::testing::Test {
 protected:
  // Runs `sluice serve` with `args`; expects exit 2 and a message naming `key`.
  void expect_refused(std::vector<std::string> args, const std::string& key) {
    std::vector<std::string> full = {"serve", "--data", data_.str()};
    if (std::find(args.begin(), args.end(), "--listen") == args.end()) {
      full.insert(full.end(), {"--listen", "127.0.0.1:0"});
    }
    full.insert(full.end(), args.begin(), args.end());
    auto result = testing::run_sluice(full);
    EXPECT_TRUE(result.exit.exited);
    EXPECT_EQ(result.exit.code, 2) << result.output;
    EXPECT_NE(result.output.find(key + ":"), std::string::npos) << result.output;
  }
  testing::TempDirectory data_;
};

TEST_F(ConfigurationTest, BadSettingsStopTheServerNamingTheKey) {
  expect_refused({"--set", "http.max_body_bytes=ten"}, "http.max_body_bytes");
  expect_refused({"--set", "storage=mysql://db"}, "storage");
  expect_refused({"--set", "no.such=1"}, "no.such");
  expect_refused({"--listen", "not-an-address"}, "listen");
  // Not an address of this machine (a key, so that the bind itself is what fails).
  expect_refused({"--listen", "203.0.113.7:7070", "--set", "keys.k.secret=0123456789abcdef",
                  "--set", "keys.k.scopes=read"},
                 "listen");
  expect_refused({"--set", "log.level=chatty"}, "log.level");
}

TEST_F(ConfigurationTest, UnusableDataDirectoryNamesStorage) {
  const std::string file = data_.str() + "/a-file";
  std::ofstream(file) << "not a directory";
  auto result = testing::run_sluice({"serve", "--listen", "127.0.0.1:0", "--data", file + "/data"});
  EXPECT_EQ(result.exit.code, 2) << result.output;
  EXPECT_NE(result.output.find("storage:"), std::string::npos) << result.output;
}

TEST_F(ConfigurationTest, PortInUseNamesListen) {
  testing::TempDirectory other;
  ServerProcess first(other.str());
  ASSERT_TRUE(first.started()) << first.log();
  expect_refused({"--listen", "127.0.0.1:" + std::to_string(first.port())}, "listen");
}

TEST_F(ConfigurationTest, BadConfigFileNamesTheKey) {
  const std::string file = data_.str() + "/sluice.toml";
  std::ofstream(file) << "[http]\nmax_batch_events = 0\n";
  expect_refused({"--config", file}, "http.max_batch_events");
}

}  // namespace
}  // namespace sluice
