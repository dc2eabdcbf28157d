// What only PostgreSQL can do to a commit: lose the connection after COMMIT was sent, while the
// server's session lives on. apply() must then say what happened: OK exactly when the commit
// landed, an error exactly when it did not. And what several nodes on one database rely on: the
// partition count is the first node's, a partition moves only when its holder's lease has run
// out, a holder's commits stop landing the moment another node has taken its partition, and a
// lease is renewed however busy the commits keep the connections.

#include "storage/postgres/postgres_backend.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <array>
#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include "tests/support/eventually.h"
#include "tests/support/postgres_server.h"
#include "tests/support/tcp_proxy.h"

namespace sluice::storage {
namespace {

using PgConnection = std::unique_ptr<PGconn, decltype(&PQfinish)>;

PgConnection connect(const std::string& conninfo) {
  PgConnection connection(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    throw std::runtime_error(PQerrorMessage(connection.get()));
  }
  return connection;
}

// Runs `sql`; the first column of its first row, or "" when it returns none.
std::string run(PGconn* connection, const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection, sql.c_str()), &PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(result.get()));
  }
  return PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
}

class PostgresCutConnectionTest : public ::testing::Test {
 protected:
  PostgresCutConnectionTest()
      : database_(server().new_database()),
        proxy_(server().port()),
        backend_(PostgresBackend::open(server().conninfo(database_, proxy_.port()), 4).value()),
        direct_(connect(server().conninfo(database_))) {}

  static testing::PostgresServer& server() {
    static testing::PostgresServer shared;
    return shared;
  }

  // Starts adding 1 to counter "x" while another session holds the counter's row: the commit
  // is sent whole and waits on the server. Returns once it waits there.
  std::future<Result<std::uint64_t>> commit_that_waits() {
    Mutation first;
    first.add("x", 1);
    EXPECT_TRUE(backend_->commit(first).ok());
    run(direct_.get(), "BEGIN");
    run(direct_.get(), "SELECT v FROM sluice.counters WHERE k = 'x'::bytea FOR UPDATE");
    auto waiting = std::async(std::launch::async, [this] {
      Mutation second;
      second.add("x", 1);
      return backend_->apply(second);
    });
    auto observer = connect(server().conninfo(database_));
    EXPECT_TRUE(testing::eventually([&] {
      return run(observer.get(),
                 "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "1";
    })) << "the commit never waited on the row";
    return waiting;
  }

  std::int64_t counter() {
    return std::stoll(run(direct_.get(), "SELECT v FROM sluice.counters WHERE k = 'x'::bytea"));
  }

  std::string database_;
  testing::TcpProxy proxy_;
  std::unique_ptr<PostgresBackend> backend_;
  PgConnection direct_;
};

TEST_F(PostgresCutConnectionTest, ACommitCutOffWhileItWaitsIsEndedAndReportedNotApplied) {
  auto waiting = commit_that_waits();
  proxy_.cut();  // the client's side goes; the server's session still waits on the row
  // The row is held until apply() has answered: its session had to be ended to know.
  auto result = waiting.get();
  run(direct_.get(), "COMMIT");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("nothing was applied"), std::string::npos)
      << result.status().to_string();
  EXPECT_EQ(counter(), 1);
}

TEST_F(PostgresCutConnectionTest, ACommitCutOffThatThenLandsIsReportedApplied) {
  auto waiting = commit_that_waits();
  proxy_.cut();
  run(direct_.get(), "COMMIT");  // the waiting session goes on, and commits
  auto result = waiting.get();
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(counter(), 2);
}

class PostgresLeaseTest : public ::testing::Test {
 protected:
  PostgresLeaseTest() : database_(server().new_database()) {
    first_ = open();
    second_ = open();
    EXPECT_EQ(first_->partition_count(2).value(), 2u);
    EXPECT_TRUE(first_->heartbeat("first", "a:1", std::chrono::minutes(1)).ok());
    EXPECT_TRUE(second_->heartbeat("second", "b:1", std::chrono::minutes(1)).ok());
  }

  static testing::PostgresServer& server() {
    static testing::PostgresServer shared;
    return shared;
  }

  std::unique_ptr<PostgresBackend> open() {
    return PostgresBackend::open(server().conninfo(database_), 2).value();
  }

  // Every partition for `backend` as `node`, or none; no grace after the server's start.
  std::vector<PartitionOwner> take(PostgresBackend& backend, const std::string& node) {
    return backend.acquire(node, kBoth, std::chrono::milliseconds(0), std::chrono::minutes(1))
        .value();
  }

  // `node`'s lease ran out a second ago.
  void expire(PostgresBackend& backend, const std::string& node) {
    EXPECT_TRUE(backend.heartbeat(node, "x:1", std::chrono::milliseconds(-1000)).ok());
  }

  static Mutation put(std::string_view key, unsigned partition = 0) {
    Mutation mutation;
    mutation.put(Table::kMeta, key, "v");
    mutation.fence_by(partition);
    return mutation;
  }

  static void hold(PostgresBackend& backend, const std::vector<PartitionOwner>& taken) {
    for (const auto& owner : taken) backend.hold(owner.partition, owner.epoch);
  }

  static constexpr std::array<unsigned, 2> kBoth = {0, 1};
  std::string database_;
  std::unique_ptr<PostgresBackend> first_;
  std::unique_ptr<PostgresBackend> second_;
};

TEST_F(PostgresLeaseTest, ThePartitionCountIsTheFirstNodesForGood) {
  EXPECT_EQ(second_->partition_count(8).value(), 2u);
  EXPECT_EQ(second_->cluster().value().partitions, 2u);
}

// A database a newer sluice has migrated is left alone; one an older sluice made is brought up to
// this build's version, and the schema it gets works.
TEST_F(PostgresLeaseTest, ADatabaseOfANewerSchemaIsRefusedAndAnOlderOneMigrated) {
  const auto direct = connect(server().conninfo(database_));
  EXPECT_EQ(run(direct.get(), "SELECT version FROM sluice.schema_version"),
            std::to_string(PostgresBackend::kSchemaVersion));
  run(direct.get(), "DROP FUNCTION sluice.expect");
  run(direct.get(), "UPDATE sluice.schema_version SET version = 2");
  Mutation conditional;
  conditional.expect(Table::kMeta, "k", "v");
  conditional.put(Table::kMeta, "k", "w");
  EXPECT_EQ(open()->commit(conditional).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(run(direct.get(), "SELECT version FROM sluice.schema_version"),
            std::to_string(PostgresBackend::kSchemaVersion));

  run(direct.get(), fmt::format("UPDATE sluice.schema_version SET version = {}",
                                PostgresBackend::kSchemaVersion + 1));
  const auto refused = PostgresBackend::open(server().conninfo(database_), 2);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("upgrade sluice"), std::string::npos);
}

TEST_F(PostgresLeaseTest, APartitionMovesOnlyOnceItsHoldersLeaseRanOutAndItsEpochRises) {
  const auto taken = take(*first_, "first");
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].epoch, 1);
  EXPECT_TRUE(take(*second_, "second").empty()) << "taken from a live holder";
  // Taking again what one holds raises the epoch too: a restarted node fences its old self.
  EXPECT_EQ(take(*first_, "first").at(0).epoch, 2);

  expire(*first_, "first");
  const auto moved = take(*second_, "second");
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(moved[0].epoch, 3);
  EXPECT_EQ(moved[1].epoch, 3);
  const ClusterView view = first_->cluster().value();
  ASSERT_EQ(view.owners.size(), 2u);
  EXPECT_EQ(view.owners[0].owner, "second");
  ASSERT_EQ(view.nodes.size(), 2u);
  EXPECT_FALSE(view.nodes[0].live);  // "first", by name
  EXPECT_TRUE(view.nodes[1].live);
}

TEST_F(PostgresLeaseTest, AHolderWhosePartitionWasTakenCommitsNothingMore) {
  std::vector<unsigned> heard;
  first_->set_fence_listener(
      [&heard](unsigned partition, const Status&) { heard.push_back(partition); });
  hold(*first_, take(*first_, "first"));
  ASSERT_TRUE(first_->commit(put("before", 1)).ok());

  expire(*first_, "first");  // paused past its lease, say
  hold(*second_, take(*second_, "second"));

  const Status late = first_->commit(put("late", 1));
  EXPECT_EQ(late.code(), StatusCode::kUnavailable) << late.to_string();
  EXPECT_NE(late.message().find("no longer held at epoch"), std::string::npos) << late.to_string();
  EXPECT_EQ(heard, std::vector<unsigned>{1});
  EXPECT_TRUE(second_->commit(put("after", 1)).ok());
  EXPECT_TRUE(second_->get(Table::kMeta, "before").value().has_value());
  EXPECT_FALSE(second_->get(Table::kMeta, "late").value().has_value());
  EXPECT_TRUE(second_->get(Table::kMeta, "after").value().has_value());

  // A partition let go: its commits fail here, and the other's go on.
  second_->release(1);
  const Status released = second_->commit(put("released", 1));
  EXPECT_EQ(released.code(), StatusCode::kUnavailable) << released.to_string();
  EXPECT_TRUE(second_->commit(put("kept", 0)).ok());
  EXPECT_FALSE(second_->get(Table::kMeta, "released").value().has_value());
}

TEST_F(PostgresLeaseTest, ALeaseIsRenewedWhileEveryCommitConnectionWaits) {
  hold(*first_, take(*first_, "first"));
  // Both of first_'s commit connections wait on partition 0's row, which another session holds.
  auto blocker = connect(server().conninfo(database_));
  run(blocker.get(), "BEGIN");
  run(blocker.get(), "SELECT 1 FROM sluice.partitions WHERE id = 0 FOR UPDATE");
  std::vector<std::future<Status>> commits;
  for (int i = 0; i < 2; ++i) {
    commits.push_back(std::async(std::launch::async, [this, i] {
      return first_->commit(put("waiting " + std::to_string(i), 0));
    }));
  }
  auto observer = connect(server().conninfo(database_));
  ASSERT_TRUE(testing::eventually([&] {
    return run(observer.get(),
               "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "2";
  })) << "the commits never waited";

  auto renewed = std::async(std::launch::async, [this] {
    return first_->heartbeat("first", "a:1", std::chrono::minutes(1));
  });
  EXPECT_EQ(renewed.wait_for(std::chrono::seconds(30)), std::future_status::ready)
      << "the lease waited for a commit connection";
  run(blocker.get(), "ROLLBACK");
  EXPECT_TRUE(renewed.get().ok());
  for (auto& commit : commits) EXPECT_TRUE(commit.get().ok());
}

TEST_F(PostgresLeaseTest, ATakingWaitsForTheHoldersCommitUnderWay) {
  const std::int64_t epoch = take(*first_, "first").at(0).epoch;
  // The holder's commit, past its fence and not yet committed.
  auto holder = connect(server().conninfo(database_));
  run(holder.get(), "BEGIN");
  run(holder.get(), "SELECT sluice.fence(0, " + std::to_string(epoch) + ")");
  run(holder.get(), "INSERT INTO sluice.meta VALUES ('in flight'::bytea, 'v'::bytea)");
  expire(*first_, "first");
  auto taking = std::async(std::launch::async, [this] { return take(*second_, "second"); });
  auto observer = connect(server().conninfo(database_));
  EXPECT_TRUE(testing::eventually([&] {
    return run(observer.get(),
               "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "1";
  })) << "the taking did not wait for the commit under way";
  run(holder.get(), "COMMIT");
  EXPECT_EQ(taking.get().at(0).epoch, epoch + 1);
  // What committed before the taking stays; the old epoch's fence fails from now on.
  EXPECT_TRUE(second_->get(Table::kMeta, "in flight").value().has_value());
  EXPECT_THROW(run(holder.get(), "SELECT sluice.fence(0, " + std::to_string(epoch) + ")"),
               std::runtime_error);
}

TEST_F(PostgresLeaseTest, ATakingEndsTheSessionsOfAHolderPausedMidCommit) {
  const std::int64_t epoch = take(*first_, "first").at(0).epoch;
  // The holder's session, as its backend names it, stopped past its fence.
  auto holder = connect(server().conninfo(database_) + "?application_name=first");
  run(holder.get(), "BEGIN");
  run(holder.get(), "SELECT sluice.fence(0, " + std::to_string(epoch) + ")");
  // Live, it is waited for and kept.
  EXPECT_TRUE(
      second_->acquire("second", kBoth, std::chrono::milliseconds(0), std::chrono::milliseconds(50))
          .value()
          .empty());
  EXPECT_NO_THROW(run(holder.get(), "SELECT 1"));

  expire(*first_, "first");
  EXPECT_TRUE(
      second_->acquire("second", kBoth, std::chrono::milliseconds(0), std::chrono::milliseconds(50))
          .value()
          .empty())
      << "taken while the paused holder still held its row";
  EXPECT_THROW(run(holder.get(), "COMMIT"), std::runtime_error) << "its session lives on";
  EXPECT_EQ(take(*second_, "second").at(0).epoch, epoch + 1);
}

}  // namespace
}  // namespace sluice::storage
