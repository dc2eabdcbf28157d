#pragma once

// Connection: one libpq connection kept in pipeline mode, with the statements it was prepared
// with. A caller queues statements (binary parameters and results), ends them with sync(), and
// reads one Rows per statement: everything between two syncs reaches the server in one write and
// answers in one round trip. ConnectionPool hands connections to threads, one at a time each.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/status.h"

struct pg_conn;
struct pg_result;

namespace sluice::storage::postgres {

// A statement's result: rows of binary columns.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result);
  Rows(Rows&& other) noexcept;
  Rows& operator=(Rows&& other) noexcept;
  ~Rows();

  int size() const;
  std::string_view bytes(int row, int column) const;
  bool is_null(int row, int column) const;
  std::int64_t int64(int row, int column) const;  // a binary bigint

 private:
  pg_result* result_ = nullptr;
};

// Binary parameters of one statement. Arrays are PostgreSQL's binary array form, so a whole
// batch of keys travels as one parameter of a statement whose shape never changes.
class Parameters {
 public:
  Parameters& bytes(std::string_view value);
  Parameters& int64(std::int64_t value);
  Parameters& bytes_array(std::span<const std::string_view> values);
  Parameters& int64_array(std::span<const std::int64_t> values);

  int count() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return pointers_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void push(std::string value);
  std::vector<std::string> values_;
  std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

struct Statement {
  std::string name;
  std::string sql;
};

class Connection {
 public:
  // Connects with `conninfo` (a URI or key=value string), enters pipeline mode and prepares
  // `statements`.
  static Result<std::unique_ptr<Connection>> open(const std::string& conninfo,
                                                  std::span<const Statement> statements,
                                                  const std::string& application_name = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues a prepared statement, or a statement without parameters.
  Status send(std::string_view statement, const Parameters& parameters);
  Status send_text(const std::string& sql);
  // Ends what was queued: the server runs it (as one implicit transaction, unless it began one).
  Status sync();
  // Asks the server to answer what was queued so far without ending it (a transaction that reads
  // before it writes).
  Status flush();
  // The next statement's result. An error carries the server's message and, in sqlstate(), its
  // code; statements after a failed one (up to the sync) fail as skipped.
  Result<Rows> next();
  // Reads what is left up to and including the next sync's answer; fails if the server failed
  // something no result was read for (the implicit COMMIT at the sync).
  Status finish();
  // The server process serving this connection.
  int backend_pid() const;

  const std::string& sqlstate() const { return sqlstate_; }
  // What the server shows for this session in pg_stat_activity; empty: the conninfo's own.
  const std::string& application_name() const { return application_name_; }
  // The connection can no longer be used: it was lost, or left mid-pipeline by an error.
  bool broken() const;
  // Not broken, and not closed by the server since it was last used (looked at without waiting).
  bool usable();

 private:
  explicit Connection(pg_conn* connection) : connection_(connection) {}
  Status lost(std::string_view what);

  pg_conn* connection_;
  std::string application_name_;
  std::string sqlstate_;
  bool broken_ = false;
};

// Connections for any number of threads, at most `capacity` open at once; a thread waits for one
// when all are out. A connection returned broken is closed and a new one opened on demand.
class ConnectionPool {
 public:
  ConnectionPool(std::string conninfo, std::vector<Statement> statements, std::size_t capacity);
  ~ConnectionPool();

  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> connection)
        : pool_(&pool), connection_(std::move(connection)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (connection_) pool_->give_back(std::move(connection_));
    }
    Connection* operator->() const { return connection_.get(); }
    Connection& operator*() const { return *connection_; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  Result<Lease> acquire();
  // Connections opened from now on show `name` as their application name; idle ones opened
  // before are closed instead of handed out.
  void set_application_name(std::string name);

 private:
  void give_back(std::unique_ptr<Connection> connection);

  const std::string conninfo_;
  const std::vector<Statement> statements_;
  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  std::size_t open_ = 0;                           // guarded by mutex_: idle and leased
  std::string application_name_;                   // guarded by mutex_
};

}  // namespace sluice::storage::postgres
