#pragma once

// PostgresBackend: the Backend on a PostgreSQL database, which several sluice nodes can share.
// Each Table is a table of the schema `sluice` (key bytea primary key, value bytea; counters
// bigint), so keys keep their bytewise order. Every commit is one transaction sent in one pipeline
// of fixed-shape prepared statements (a batch of keys travels as one array parameter), committed
// with synchronous_commit on: when apply() returns, the change is durable, and wait_durable()
// has nothing left to wait for.
//
// Counters add on the server (ON CONFLICT DO UPDATE), so writers never read them. A document
// patch needs the document: a commit that patches documents first locks and reads them (rows
// created empty when missing, so two first patches cannot both insert), applies the patches with
// DocumentPatch as RocksDB's merge operator does, and writes the results in the same
// transaction: two round trips instead of one.
//
// A commit's outcome is never left unknown while the database can be reached: each commit writes
// a token of its own (sluice.commits, kept for minutes) and learns its transaction's id before it
// commits. When the connection is lost while COMMIT may be on its way, apply() waits on other
// connections until that transaction is over (pg_xact_status), then looks for the token. So an
// error from apply() means nothing was applied, unless its message says the outcome is unknown
// (the database stayed away for seconds).
//
// The schema is created and migrated here, under an advisory lock so that nodes starting together
// take turns; a database whose schema is newer than this build is refused.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "storage/backend.h"
#include "storage/cluster.h"
#include "storage/postgres/connection.h"

namespace sluice::storage {

class PostgresBackend final : public Backend {
 public:
  static constexpr int kSchemaVersion = 3;

  // Connects with `conninfo` (a libpq URI or key=value string), creates or migrates the schema,
  // and keeps up to `connections` connections for concurrent callers. Fails with Unavailable when
  // the server cannot be reached, FailedPrecondition when its schema is newer than this build.
  static Result<std::unique_ptr<PostgresBackend>> open(const std::string& conninfo,
                                                       std::size_t connections = 16);

  Result<std::uint64_t> apply(const Mutation& mutation) override;
  std::uint64_t applied() override { return commits_.load(); }
  Status wait_durable(std::uint64_t ticket) override;
  Result<std::optional<std::string>> get(Table table, std::string_view key) override;
  Result<std::vector<std::optional<std::string>>> get_many(
      Table table, std::span<const std::string> keys) override;
  Result<std::vector<Entry>> scan(Table table, const ScanOptions& options) override;

  // Several nodes on one database (see the migration for the tables and the fence).
  //
  // The database's partition count: `wanted` on a database that has none yet.
  Result<unsigned> partition_count(unsigned wanted);
  // `node` (a name unique to this process, listening at `address`) is live for `lease` more, on
  // the database's clock.
  Status heartbeat(std::string_view node, std::string_view address,
                   std::chrono::milliseconds lease);
  // This backend's sessions show `node` as their application name, so that a node taking over
  // can end them once its lease has run out. Call before the first heartbeat.
  void identify(std::string_view node);
  // `node` stops: its lease ends now, and others may take what it held at once.
  Status leave(std::string_view node);
  // `node` no longer holds `partitions` (it stopped their commits first): others may take them.
  Status give_back(std::string_view node, std::span<const unsigned> partitions);
  // Takes `partitions` for `node` if no other live node holds any of them, raising each one's
  // epoch; the partitions with their new epochs, or none when another live node holds one. For
  // `lease` after the database server starts, every node counts as live: a restart of the server
  // must not hand the partitions to whichever node reconnects first. A taking waits up to
  // `lock_wait` for the holder's commits under way; past that it ends the sessions of holders
  // whose lease ran out (one paused mid-commit holds its rows) and takes nothing this time.
  Result<std::vector<PartitionOwner>> acquire(std::string_view node,
                                              std::span<const unsigned> partitions,
                                              std::chrono::milliseconds lease,
                                              std::chrono::milliseconds lock_wait);
  // Mutations fenced by `partition` commit only while it is still held at `epoch`: their
  // transaction checks that first. Once another node has taken it, they fail with Unavailable,
  // applying nothing, and the fence listener hears of each.
  void hold(unsigned partition, std::int64_t epoch);
  // Mutations fenced by `partition` fail from now on without reaching the database.
  void release(unsigned partition);
  // Told of each commit refused because another node took its partition. Set it before hold().
  void set_fence_listener(std::function<void(unsigned partition, const Status&)> listener) {
    fenced_ = std::move(listener);
  }
  Result<ClusterView> cluster();

 private:
  PostgresBackend(const std::string& conninfo, std::size_t connections);

  // One attempt at a commit on one connection, which also records `token`; `transaction`
  // receives its transaction's id as soon as the server has given it.
  Status apply_once(postgres::Connection& connection, const Mutation& mutation,
                    std::string_view token, std::string& transaction);
  // Whether the commit that recorded `token` in transaction `transaction` landed, asked on other
  // connections once that transaction is over (its session `session` is ended if it lingers);
  // an error when the database cannot be reached for seconds.
  Result<bool> resolve(std::string_view token, const std::string& transaction, int session);
  // Runs one statement on a pooled connection, once more on a fresh one if the first was lost
  // (reads only: they are safe to repeat).
  Result<postgres::Rows> read(const std::string& statement,
                              const postgres::Parameters& parameters) {
    return read(pool_, statement, parameters);
  }
  Result<postgres::Rows> read(postgres::ConnectionPool& pool, const std::string& statement,
                              const postgres::Parameters& parameters);

  postgres::ConnectionPool pool_;
  // The cluster's own statements (leases, takings, the cluster view) have connections of their
  // own: however busy commits keep pool_, a node renews its lease in time.
  postgres::ConnectionPool cluster_pool_;
  std::atomic<std::uint64_t> commits_{0};
  // A commit's token: this backend's random prefix, then a count of the commits it attempted.
  const std::string token_prefix_;
  std::atomic<std::uint64_t> tokens_{0};
  std::atomic<std::uint64_t> heartbeats_{0};
  // The epoch each partition is held at; negative for one not held. Until the first hold(), this
  // backend serves one process alone and commits are not fenced.
  std::array<std::atomic<std::int64_t>, kMaxPartitions> held_;
  std::atomic<bool> fencing_{false};
  std::function<void(unsigned partition, const Status&)> fenced_;
};

}  // namespace sluice::storage
