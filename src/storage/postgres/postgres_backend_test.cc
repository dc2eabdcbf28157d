// What only PostgreSQL can do to a commit: lose the connection after COMMIT was sent, while the
// server's session lives on. apply() must then say what happened: OK exactly when the commit
// landed, an error exactly when it did not.

#include "storage/postgres/postgres_backend.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <future>
#include <memory>

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

}  // namespace
}  // namespace sluice::storage
