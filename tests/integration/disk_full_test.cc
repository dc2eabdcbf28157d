// A full disk, made for the test: the real binary's data directory sits on a small tmpfs that a
// ballast file nearly fills. Ingest must answer 503 with Retry-After (never 500, never hang),
// keep every event it acknowledged, go on answering reads, and accept again by itself once the
// ballast is gone — and what it holds must survive a restart.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "http/client.h"
#include "tests/integration/server_process.h"
#include "tests/support/eventually.h"
#include "tests/support/metric_samples.h"
#include "tests/support/temp_directory.h"

namespace sluice {
namespace {

namespace json = boost::json;

class DiskFullTest : public ::testing::Test {
 protected:
  // Processing writes history, documents and stats besides the queue: it needs more room.
  void SetUp() override {
    small_ = directory_.str() + "/small";
    std::filesystem::create_directory(small_);
    const bool processing =
        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())
            .starts_with("Processing");
    const std::string size = processing ? "size=512m" : "size=160m";
    if (::mount("tmpfs", small_.c_str(), "tmpfs", 0, size.c_str()) != 0) {
      GTEST_SKIP() << "cannot mount a small filesystem here (" << std::strerror(errno)
                   << "); this test needs root";
    }
    mounted_ = true;
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
    if (mounted_) ::umount2(small_.c_str(), MNT_DETACH);
  }

  void start(bool processing = false) {
    client_.reset();
    server_.reset();
    server_ = std::make_unique<testing::ServerProcess>(
        small_ + "/data",
        std::vector<std::string>{"--set",
                                 processing ? "pipeline.paused=false" : "pipeline.paused=true",
                                 "--set", "storage.min_free_mb=64"});
    ASSERT_TRUE(server_->started()) << server_->log();
    client_ = std::move(http::Client::create(server_->url()).value());
  }
  // Fills the filesystem but for `leave` bytes.
  void fill_but(std::size_t leave) {
    struct statvfs stats;
    ASSERT_EQ(::statvfs(small_.c_str(), &stats), 0);
    const auto free_bytes = static_cast<std::size_t>(stats.f_bavail) * stats.f_frsize;
    ASSERT_GT(free_bytes, leave);
    const int fd = ::open((small_ + "/ballast").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::posix_fallocate(fd, 0, static_cast<off_t>(free_bytes - leave)), 0);
    ::close(fd);
  }
  std::string batch() {
    std::string body;
    for (int i = 0; i < 500; ++i) {
      body += R"({"event_id":"full-)" + std::to_string(next_++) +
              R"(","stream_id":"s1","type":"donation","amount":"1.00","currency":"USD",)"
              R"("message":"a message long enough to take some room on the disk, and more"})"
              "\n";
    }
    return body;
  }
  std::int64_t depth() {
    auto response = client_->get("/api/queue");
    EXPECT_TRUE(response.ok());
    EXPECT_EQ(response->status, 200u) << response->body;
    return json::parse(response->body).at("depth").as_int64();
  }

  testing::TempDirectory directory_;
  std::string small_;
  bool mounted_ = false;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
  int next_ = 0;
};

TEST_F(DiskFullTest, IngestAnswers503WhileFullKeepsWhatItHasAndRecovers) {
  start();
  fill_but(72u << 20);  // 8 MiB above the reserve
  std::int64_t accepted = 0;
  unsigned refused = 0;
  for (int request = 0; request < 400 && refused == 0; ++request) {
    auto response = client_->post("/api/events", batch(), "application/x-ndjson");
    ASSERT_TRUE(response.ok()) << response.status().to_string() << "\n" << server_->log();
    if (response->status == 202) {
      accepted += 500;
    } else {
      ASSERT_EQ(response->status, 503u) << response->body;
      EXPECT_FALSE(response->headers["Retry-After"].empty());
      EXPECT_EQ(json::parse(response->body).at("error").at("code"), "unavailable");
      ++refused;
    }
  }
  ASSERT_EQ(refused, 1u) << "the disk never filled";
  ASSERT_GT(accepted, 0);
  EXPECT_EQ(depth(), accepted);  // reads go on; nothing acknowledged is missing
  EXPECT_EQ(client_->post("/api/events", batch(), "application/x-ndjson")->status, 503u);

  std::filesystem::remove(small_ + "/ballast");
  bool answered = true;  // a server that fails the request ends the wait at once
  const bool recovered = testing::eventually([&] {
    auto response = client_->post("/api/events", batch(), "application/x-ndjson");
    answered = response.ok() && response->status != 500u;
    if (!answered) return true;
    if (response->status != 202) {
      // Each refusal is a 500-event batch and a line of log: ask less often than eventually().
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return false;
    }
    accepted += 500;
    return true;
  });
  ASSERT_TRUE(answered) << "ingest failed instead of refusing\n" << server_->log();
  ASSERT_TRUE(recovered) << "ingest did not recover once space returned\n" << server_->log();
  EXPECT_EQ(depth(), accepted);

  server_->stop();
  start();
  EXPECT_EQ(depth(), accepted);
}

TEST_F(DiskFullTest, ProcessingWaitsWhileFullThenFinishesEverythingOnce) {
  // The queue is filled with processing paused, so that processing certainly has work when it
  // meets the full disk (running alongside ingest, it may have caught up by the time ingest is
  // refused, and never try to commit while the disk is full).
  start();
  fill_but(72u << 20);
  std::int64_t accepted = 0;
  bool refused = false;
  for (int request = 0; request < 400 && !refused; ++request) {
    auto response = client_->post("/api/events", batch(), "application/x-ndjson");
    ASSERT_TRUE(response.ok()) << response.status().to_string() << "\n" << server_->log();
    ASSERT_NE(response->status, 500u) << response->body;
    refused = response->status == 503;
    if (!refused) accepted += 500;
  }
  ASSERT_TRUE(refused) << "the disk never filled";

  start(true);
  // The engine meets the full disk: /metrics counts its refused commits.
  const bool met_full_disk = testing::eventually([&] {
    auto answer = client_->get("/metrics");
    return answer.ok() &&
           testing::metric_samples(answer->body).at("sluice_engine_commit_failures_total") > 0;
  });
  ASSERT_TRUE(met_full_disk) << "processing never met the full disk\n" << server_->log();
  std::filesystem::remove(small_ + "/ballast");

  // Everything acknowledged is processed, once, without help (within minutes even under the
  // sanitizers).
  json::value queue;
  const bool drained = testing::eventually(
      [&] {
        queue = json::parse(client_->get("/api/queue")->body);
        return queue.at("depth") == 0 && queue.at("running") == 0;
      },
      std::chrono::minutes(5));
  ASSERT_TRUE(drained) << queue << "\n" << server_->log().substr(0, 3000);
  auto stats = client_->get("/api/streams/s1/stats");
  ASSERT_EQ(stats->status, 200u);
  const json::value body = json::parse(stats->body);
  EXPECT_EQ(body.at("events"), accepted);
  EXPECT_EQ(body.at("donations").at("totals").at("USD"),
            json::value(std::to_string(accepted) + ".00"));
}

}  // namespace
}  // namespace sluice
