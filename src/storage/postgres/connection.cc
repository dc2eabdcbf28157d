#include "storage/postgres/connection.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include "storage/key_encoding.h"

namespace sluice::storage::postgres {
namespace {

constexpr unsigned kByteaOid = 17;
constexpr unsigned kInt8Oid = 20;

void append_int32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((value >> shift) & 0xff));
}

// The header of a one-dimensional binary array of `count` elements of type `oid`.
std::string array_header(std::size_t count, unsigned oid) {
  std::string out;
  append_int32(out, count == 0 ? 0 : 1);  // dimensions (an empty array has none)
  append_int32(out, 0);                   // no nulls
  append_int32(out, oid);
  if (count > 0) {
    append_int32(out, static_cast<std::uint32_t>(count));
    append_int32(out, 1);  // lower bound
  }
  return out;
}

// What a failed statement means to sluice's callers: whether trying again later can help.
Status status_for(std::string_view sqlstate, std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (sqlstate.starts_with("08") || sqlstate.starts_with("57P") || sqlstate == "40001" ||
      sqlstate == "40P01" || sqlstate == "55P03" || sqlstate == "53300") {
    return unavailable(std::move(message));
  }
  // SL001, from sluice.fence(): the partition has been taken over by another node (retrying is
  // for the node that now holds it).
  if (sqlstate == "SL001") return unavailable(std::move(message));
  // SL002, from sluice.expect(): a condition of the commit (Mutation::expect) did not hold.
  if (sqlstate == "SL002") return failed_precondition(std::move(message));
  if (sqlstate == "53100" || sqlstate == "53200") return resource_exhausted(std::move(message));
  // A unique violation: only an insert (Mutation::insert) can meet one.
  if (sqlstate == "23505") return already_exists(std::move(message));
  return internal_error(std::move(message));
}

}  // namespace

Rows::Rows(pg_result* result) : result_(result) {}
Rows::Rows(Rows&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}
Rows::~Rows() {
  if (result_ != nullptr) PQclear(result_);
}
int Rows::size() const { return result_ == nullptr ? 0 : PQntuples(result_); }
std::string_view Rows::bytes(int row, int column) const {
  return {PQgetvalue(result_, row, column),
          static_cast<std::size_t>(PQgetlength(result_, row, column))};
}
bool Rows::is_null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }
std::int64_t Rows::int64(int row, int column) const {
  return static_cast<std::int64_t>(read_big_endian(bytes(row, column)));
}

void Parameters::push(std::string value) {
  values_.push_back(std::move(value));
  pointers_.clear();
  lengths_.clear();
  for (const auto& held : values_) {
    pointers_.push_back(held.data());
    lengths_.push_back(static_cast<int>(held.size()));
  }
  formats_.assign(values_.size(), 1);
}

Parameters& Parameters::bytes(std::string_view value) {
  push(std::string(value));
  return *this;
}

Parameters& Parameters::int64(std::int64_t value) {
  std::string out;
  append_big_endian(out, static_cast<std::uint64_t>(value));
  push(std::move(out));
  return *this;
}

Parameters& Parameters::bytes_array(std::span<const std::string_view> values) {
  std::string out = array_header(values.size(), kByteaOid);
  std::size_t total = out.size();
  for (auto value : values) total += 4 + value.size();
  out.reserve(total);
  for (auto value : values) {
    append_int32(out, static_cast<std::uint32_t>(value.size()));
    out.append(value);
  }
  push(std::move(out));
  return *this;
}

Parameters& Parameters::int64_array(std::span<const std::int64_t> values) {
  std::string out = array_header(values.size(), kInt8Oid);
  for (auto value : values) {
    append_int32(out, 8);
    append_big_endian(out, static_cast<std::uint64_t>(value));
  }
  push(std::move(out));
  return *this;
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& conninfo,
                                                     std::span<const Statement> statements,
                                                     const std::string& application_name) {
  // Defaults that a value in `conninfo` overrides (later keywords win): give up connecting after
  // 10 s, and notice a server that stopped answering mid-statement (a frozen host, a cut
  // network) within about 10 s rather than TCP's quarter of an hour.
  const char* keywords[] = {
      "connect_timeout",  "keepalives_idle", "keepalives_interval", "keepalives_count",
      "tcp_user_timeout", "dbname",          "application_name",    nullptr};
  const char* values[] = {"10",
                          "5",
                          "2",
                          "3",
                          "10000",
                          conninfo.c_str(),
                          application_name.empty() ? nullptr : application_name.c_str(),
                          nullptr};
  pg_conn* raw = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (raw == nullptr) return unavailable("cannot allocate a PostgreSQL connection");
  std::unique_ptr<Connection> connection(new Connection(raw));
  connection->application_name_ = application_name;
  if (PQstatus(raw) != CONNECTION_OK) {
    std::string message = PQerrorMessage(raw);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return unavailable(std::move(message));
  }
  if (PQenterPipelineMode(raw) != 1) return connection->lost("entering pipeline mode");
  // Every commit is durable before it is acknowledged, whatever the server's default; a session
  // left in a transaction (a node paused mid-turn) gives its locks back; notices ("already
  // exists, skipping") stay out of the log.
  const char* kSession[] = {"SET synchronous_commit = on",
                            "SET idle_in_transaction_session_timeout = '30s'",
                            "SET client_min_messages = warning"};
  for (const char* setting : kSession) SLUICE_RETURN_IF_ERROR(connection->send_text(setting));
  for (const auto& statement : statements) {
    if (PQsendPrepare(raw, statement.name.c_str(), statement.sql.c_str(), 0, nullptr) != 1) {
      return connection->lost("preparing statements");
    }
  }
  SLUICE_RETURN_IF_ERROR(connection->sync());
  constexpr std::size_t kSettings = std::size(kSession);
  for (std::size_t i = 0; i < statements.size() + kSettings; ++i) {
    auto prepared = connection->next();
    if (!prepared.ok()) {
      (void)connection->finish();
      return Status(prepared.status().code(),
                    fmt::format("{} (preparing {})", prepared.status().message(),
                                i < kSettings ? "the session" : statements[i - kSettings].name));
    }
  }
  SLUICE_RETURN_IF_ERROR(connection->finish());
  return connection;
}

Connection::~Connection() { PQfinish(connection_); }

int Connection::backend_pid() const { return PQbackendPID(connection_); }

bool Connection::broken() const { return broken_ || PQstatus(connection_) != CONNECTION_OK; }

bool Connection::usable() {
  // Reads what the server may have sent meanwhile: a server that restarted or closed the session
  // has left an end of file, which turns the status bad.
  return !broken_ && PQconsumeInput(connection_) == 1 && PQstatus(connection_) == CONNECTION_OK;
}

Status Connection::lost(std::string_view what) {
  broken_ = true;
  std::string message = PQerrorMessage(connection_);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return unavailable(fmt::format("PostgreSQL connection lost {}: {}", what, message));
}

Status Connection::send(std::string_view statement, const Parameters& parameters) {
  const std::string name(statement);
  if (PQsendQueryPrepared(connection_, name.c_str(), parameters.count(), parameters.values(),
                          parameters.lengths(), parameters.formats(), /*resultFormat=*/1) != 1) {
    return lost("sending a statement");
  }
  return {};
}

Status Connection::send_text(const std::string& sql) {
  if (PQsendQueryParams(connection_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1) != 1) {
    return lost("sending a statement");
  }
  return {};
}

Status Connection::sync() {
  if (PQpipelineSync(connection_) != 1) return lost("ending a pipeline");
  return {};
}

Status Connection::flush() {
  if (PQsendFlushRequest(connection_) != 1 || PQflush(connection_) != 0) {
    return lost("flushing a pipeline");
  }
  return {};
}

Result<Rows> Connection::next() {
  sqlstate_.clear();
  pg_result* result = PQgetResult(connection_);
  if (result == nullptr) return lost("awaiting a result");
  Rows rows(result);
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_PIPELINE_SYNC) {
    broken_ = true;
    return internal_error("PostgreSQL pipeline out of step: a sync where a result was due");
  }
  // A statement's results end with a NULL.
  if (pg_result* extra = PQgetResult(connection_); extra != nullptr) {
    PQclear(extra);
    broken_ = true;
    return internal_error("PostgreSQL answered a statement with more than one result");
  }
  switch (status) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
      return rows;
    case PGRES_PIPELINE_ABORTED:
      return internal_error("statement skipped after an earlier one failed");
    default:
      if (PQstatus(connection_) != CONNECTION_OK) return lost("awaiting a result");
      if (const char* code = PQresultErrorField(result, PG_DIAG_SQLSTATE); code != nullptr) {
        sqlstate_ = code;
      }
      return status_for(sqlstate_, PQresultErrorMessage(result));
  }
}

Status Connection::finish() {
  // An error here is one no statement's result carried: the implicit COMMIT at the sync failed.
  Status failed;
  int empty_in_a_row = 0;
  while (true) {
    pg_result* result = PQgetResult(connection_);
    if (result == nullptr) {
      if (PQstatus(connection_) != CONNECTION_OK) return lost("awaiting an answer");
      if (++empty_in_a_row > 2) {
        broken_ = true;
        return internal_error("PostgreSQL pipeline out of step: no sync to await");
      }
      continue;
    }
    empty_in_a_row = 0;
    const ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_FATAL_ERROR && failed.ok()) {
      if (const char* code = PQresultErrorField(result, PG_DIAG_SQLSTATE); code != nullptr) {
        sqlstate_ = code;
      }
      failed = status_for(sqlstate_, PQresultErrorMessage(result));
    }
    PQclear(result);
    if (status == PGRES_PIPELINE_SYNC) break;
  }
  if (PQtransactionStatus(connection_) != PQTRANS_IDLE) {
    broken_ = true;
    return internal_error("PostgreSQL session left inside a transaction");
  }
  return failed;
}

ConnectionPool::ConnectionPool(std::string conninfo, std::vector<Statement> statements,
                               std::size_t capacity)
    : conninfo_(std::move(conninfo)), statements_(std::move(statements)), capacity_(capacity) {}

ConnectionPool::~ConnectionPool() = default;

void ConnectionPool::set_application_name(std::string name) {
  const std::lock_guard lock(mutex_);
  application_name_ = std::move(name);
}

Result<ConnectionPool::Lease> ConnectionPool::acquire() {
  std::unique_lock lock(mutex_);
  returned_.wait(lock, [&] { return !idle_.empty() || open_ < capacity_; });
  while (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    if (connection->usable() && connection->application_name() == application_name_) {
      return Lease(*this, std::move(connection));
    }
    --open_;
  }
  ++open_;
  const std::string application_name = application_name_;
  lock.unlock();
  auto opened = Connection::open(conninfo_, statements_, application_name);
  if (!opened.ok()) {
    lock.lock();
    --open_;
    returned_.notify_one();
    return opened.status();
  }
  return Lease(*this, std::move(*opened));
}

void ConnectionPool::give_back(std::unique_ptr<Connection> connection) {
  const bool keep = !connection->broken();
  if (!keep) connection.reset();  // closed outside the lock
  std::lock_guard lock(mutex_);
  if (keep) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
  returned_.notify_one();
}

}  // namespace sluice::storage::postgres
