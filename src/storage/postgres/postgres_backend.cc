#include "storage/postgres/postgres_backend.h"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "storage/document_patch.h"
#include "storage/key_encoding.h"

namespace sluice::storage {
namespace {

using postgres::Connection;
using postgres::Parameters;
using postgres::Rows;
using postgres::Statement;

// Held while the schema is created or migrated, so that nodes starting together take turns.
constexpr std::int64_t kSchemaLockId = 0x736c75696365;  // "sluice"

// A commit that meets a deadlock or a serialization failure is tried again this often.
constexpr int kCommitAttempts = 8;

// How long a commit whose connection was lost after COMMIT was sent keeps trying to reach the
// database to ask how it ended before it reports the outcome unknown. Short, because ingest
// waits meanwhile: callers cope with an unknown outcome (they read back what storage holds).
constexpr auto kResolveFor = std::chrono::seconds(3);
// How long a transaction still running on a lost connection is waited for before its session
// is ended.
constexpr auto kEndSessionAfter = std::chrono::seconds(1);
// And however the database answers, a commit stops asking after this long.
constexpr auto kResolveAtMost = std::chrono::seconds(30);

// Every this many commits, one also forgets the tokens of commits minutes old.
constexpr std::uint64_t kForgetCommitsEvery = 1024;

std::string qualified(Table table) { return fmt::format("sluice.{}", table_name(table)); }
std::string value_type(Table table) { return table == Table::kCounters ? "bigint" : "bytea"; }

// Migrations by version: element i brings a database from version i to i + 1.
std::vector<std::vector<std::string>> migrations() {
  std::vector<std::string> first;
  for (Table table : kAllTables) {
    // Counters and documents are rewritten in place all the time: room on each page lets
    // PostgreSQL update them without touching the index (a heap-only update).
    const bool rewritten = table == Table::kCounters || table == Table::kDocuments;
    first.push_back(fmt::format("CREATE TABLE {} (k bytea PRIMARY KEY, v {} NOT NULL){}",
                                qualified(table), value_type(table),
                                rewritten ? " WITH (fillfactor = 70)" : ""));
  }
  // The commits of the last minutes, each by a token of its own: how a commit whose answer was
  // lost learns whether it landed.
  first.push_back(
      "CREATE TABLE sluice.commits (token bytea PRIMARY KEY, at timestamptz NOT NULL DEFAULT "
      "now())");
  // Counters wrap around at the ends of int64 as they do in memory and in RocksDB, where
  // PostgreSQL's bigint would fail the commit.
  first.push_back(
      "CREATE FUNCTION sluice.wrapping_add(a bigint, b bigint) RETURNS bigint "
      "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT (CASE "
      "WHEN a::numeric + b > 9223372036854775807 THEN a::numeric + b - 18446744073709551616 "
      "WHEN a::numeric + b < -9223372036854775808 THEN a::numeric + b + 18446744073709551616 "
      "ELSE a::numeric + b END)::bigint $$");
  // Version 2: several nodes. The partition count is fixed when the first node creates it. A
  // node is live while its lease (expires_at, on this server's clock) lasts; a partition belongs
  // to one node at a time, and each taking raises its epoch. Every commit of a holder begins with
  // sluice.fence(), which share-locks the partition's row and fails unless the epoch is still the
  // holder's: a taking (an UPDATE of that row) waits for commits under way, and commits after it
  // fail. So a node that lost a partition, however late it wakes, never commits again.
  std::vector<std::string> cluster;
  cluster.push_back(
      "CREATE TABLE sluice.cluster (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
      "partitions integer NOT NULL CHECK (partitions > 0))");
  cluster.push_back(
      "CREATE TABLE sluice.nodes (name text PRIMARY KEY, address text NOT NULL, "
      "started_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz NOT NULL)");
  // Rewritten at every taking: room on the page keeps those updates heap-only.
  cluster.push_back(
      "CREATE TABLE sluice.partitions (id integer PRIMARY KEY, owner text, "
      "epoch bigint NOT NULL DEFAULT 0) WITH (fillfactor = 50)");
  cluster.push_back(
      "CREATE FUNCTION sluice.create_cluster(wanted integer) RETURNS integer LANGUAGE plpgsql AS "
      "$$ "
      "DECLARE n integer; BEGIN "
      "INSERT INTO sluice.cluster (partitions) VALUES (wanted) ON CONFLICT DO NOTHING; "
      "SELECT partitions INTO n FROM sluice.cluster; "
      "INSERT INTO sluice.partitions (id) SELECT generate_series(0, n - 1) ON CONFLICT DO NOTHING; "
      "RETURN n; END $$");
  cluster.push_back(
      "CREATE FUNCTION sluice.fence(p integer, e bigint) RETURNS void LANGUAGE plpgsql AS $$ "
      "BEGIN PERFORM 1 FROM sluice.partitions WHERE id = p AND epoch = e FOR SHARE; "
      "IF NOT FOUND THEN RAISE EXCEPTION 'partition % is no longer held at epoch %: another node "
      "took it over', p, e USING ERRCODE = 'SL001'; END IF; END $$");
  // All or nothing: the partitions are taken only if no other live node holds one of them.
  cluster.push_back(
      "CREATE FUNCTION sluice.acquire(who text, wanted integer[], lease interval) "
      "RETURNS SETOF sluice.partitions LANGUAGE plpgsql AS $$ BEGIN "
      "PERFORM 1 FROM sluice.partitions WHERE id = ANY(wanted) ORDER BY id FOR UPDATE; "
      "IF EXISTS (SELECT 1 FROM sluice.partitions p JOIN sluice.nodes n ON n.name = p.owner "
      "WHERE p.id = ANY(wanted) AND p.owner <> who AND n.expires_at > '-infinity' AND "
      "greatest(n.expires_at, pg_postmaster_start_time() + lease) >= clock_timestamp()) "
      "THEN RETURN; END IF; "
      "RETURN QUERY UPDATE sluice.partitions p SET owner = who, epoch = p.epoch + 1 "
      "WHERE p.id = ANY(wanted) RETURNING p.*; END $$");
  // Version 3: conditions (Mutation::expect), checked on a locked row.
  std::vector<std::string> conditions;
  conditions.push_back(
      "CREATE FUNCTION sluice.expect(tbl text, key bytea, want bytea) RETURNS void LANGUAGE "
      "plpgsql AS $$ DECLARE have bytea; BEGIN "
      "EXECUTE format('SELECT v FROM sluice.%I WHERE k = $1 FOR UPDATE', tbl) INTO have USING key; "
      "IF have IS DISTINCT FROM want THEN RAISE EXCEPTION 'a value the commit expects has "
      "changed' USING ERRCODE = 'SL002'; END IF; END $$");
  return {first, cluster, conditions};
}

std::string scan_name(Table table, bool reverse, bool after, bool upper) {
  return fmt::format("scan_{}_{}{}{}", table_name(table), reverse ? 'r' : 'f', after ? 'a' : '-',
                     upper ? 'u' : '-');
}

std::vector<Statement> statements() {
  std::vector<Statement> out;
  for (Table table : kAllTables) {
    const std::string name(table_name(table));
    const std::string from = qualified(table);
    out.push_back({"get_" + name, fmt::format("SELECT v FROM {} WHERE k = $1", from)});
    out.push_back(
        {"get_many_" + name, fmt::format("SELECT k, v FROM {} WHERE k = ANY($1::bytea[])", from)});
    out.push_back({"put_" + name, fmt::format("INSERT INTO {} (k, v) SELECT * FROM "
                                              "unnest($1::bytea[], $2::{}[]) ON CONFLICT (k) DO "
                                              "UPDATE SET v = EXCLUDED.v",
                                              from, value_type(table))});
    out.push_back(
        {"expect_" + name, fmt::format("SELECT sluice.expect('{}', k, v) FROM unnest($1::bytea[], "
                                       "$2::bytea[]) AS u(k, v)",
                                       name)});
    // No ON CONFLICT: a key that holds a value fails the commit (23505, AlreadyExists).
    out.push_back({"insert_" + name, fmt::format("INSERT INTO {} (k, v) SELECT * FROM "
                                                 "unnest($1::bytea[], $2::{}[])",
                                                 from, value_type(table))});
    out.push_back(
        {"erase_" + name, fmt::format("DELETE FROM {} WHERE k = ANY($1::bytea[])", from)});
    for (bool reverse : {false, true}) {
      for (bool after : {false, true}) {
        for (bool upper : {false, true}) {
          // $1 prefix, then the upper bound and the cursor when present, then the limit.
          std::string sql = fmt::format("SELECT k, v FROM {} WHERE k >= $1", from);
          int next = 2;
          if (upper) sql += fmt::format(" AND k < ${}", next++);
          if (after) sql += fmt::format(" AND k {} ${}", reverse ? '<' : '>', next++);
          sql += fmt::format(" ORDER BY k{} LIMIT ${}", reverse ? " DESC" : "", next);
          out.push_back({scan_name(table, reverse, after, upper), std::move(sql)});
        }
      }
    }
  }
  // A commit learns its transaction's id before it sends COMMIT and writes its token with
  // everything else, so that a connection lost while awaiting the answer can ask whether the
  // transaction is over (pg_xact_status) and then whether it left its token.
  out.push_back({"xact_id", "SELECT pg_current_xact_id()::text"});
  out.push_back({"xact_status", "SELECT pg_xact_status($1::text::xid8)"});
  out.push_back({"mark_commit", "INSERT INTO sluice.commits (token) VALUES ($1)"});
  out.push_back({"find_commit", "SELECT 1 FROM sluice.commits WHERE token = $1"});
  // Ends the session of a lost connection whose transaction is still running (the client side
  // was cut, not the server's): then its outcome is final.
  out.push_back({"end_session",
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1::bigint "
                 "AND backend_xid = xid($2::text::xid8)"});
  out.push_back(
      {"forget_commits", "DELETE FROM sluice.commits WHERE at < now() - interval '5 minutes'"});
  out.push_back({"fence", "SELECT sluice.fence($1::bigint::integer, $2::bigint)"});
  out.push_back({"create_cluster", "SELECT sluice.create_cluster($1::bigint::integer)::bigint"});
  out.push_back(
      {"heartbeat",
       "INSERT INTO sluice.nodes AS n (name, address, expires_at) VALUES ($1::text, "
       "$2::text, clock_timestamp() + $3::bigint * interval '1 millisecond') ON CONFLICT "
       "(name) DO UPDATE SET address = EXCLUDED.address, expires_at = EXCLUDED.expires_at"});
  // A node that stopped: no grace after a restart of the server either (see sluice.acquire).
  out.push_back(
      {"leave", "UPDATE sluice.nodes SET expires_at = '-infinity' WHERE name = $1::text"});
  // The next taking raises the epoch: a commit of the giver still under way lands before it.
  out.push_back({"give_back",
                 "UPDATE sluice.partitions SET owner = NULL WHERE owner = $1::text AND id = "
                 "ANY($2::bigint[]::integer[])"});
  // Nodes gone for an hour that hold nothing.
  out.push_back({"forget_nodes",
                 "DELETE FROM sluice.nodes WHERE expires_at < now() - interval '1 hour' AND NOT "
                 "EXISTS (SELECT 1 FROM sluice.partitions p WHERE p.owner = name)"});
  // A taking waits this long for the partitions' rows; see acquire().
  out.push_back({"lock_briefly", "SELECT set_config('lock_timeout', $1::text, true)"});
  // The sessions of the holders of the wanted partitions whose lease ran out, by the rule
  // sluice.acquire() goes by.
  out.push_back({"end_stale_sessions",
                 "SELECT count(pg_terminate_backend(a.pid))::bigint FROM pg_stat_activity a JOIN "
                 "sluice.nodes n ON n.name = a.application_name WHERE a.datname = "
                 "current_database() AND a.pid <> pg_backend_pid() AND n.name <> $1::text AND "
                 "n.name IN (SELECT owner FROM sluice.partitions WHERE id = "
                 "ANY($2::bigint[]::integer[])) AND greatest(n.expires_at, "
                 "pg_postmaster_start_time() + $3::bigint * interval '1 millisecond') < "
                 "clock_timestamp()"});
  out.push_back({"acquire",
                 "SELECT id::bigint, epoch FROM sluice.acquire($1::text, $2::bigint[]::integer[], "
                 "$3::bigint * interval '1 millisecond') ORDER BY id"});
  out.push_back(
      {"cluster_nodes",
       "SELECT name, address, (extract(epoch FROM started_at) * 1e6)::bigint, "
       "CASE WHEN isfinite(expires_at) THEN (extract(epoch FROM expires_at) * 1e6)::bigint "
       "ELSE 0 END, "
       "(expires_at >= clock_timestamp())::int::bigint FROM sluice.nodes ORDER BY name"});
  out.push_back(
      {"cluster_partitions",
       "SELECT id::bigint, coalesce(owner, ''), epoch FROM sluice.partitions ORDER BY id"});
  out.push_back({"add_counters",
                 "INSERT INTO sluice.counters AS c (k, v) SELECT * FROM unnest($1::bytea[], "
                 "$2::bigint[]) ON CONFLICT (k) DO UPDATE SET v = sluice.wrapping_add(c.v, "
                 "EXCLUDED.v)"});
  // Documents about to be patched: created empty where missing (in key order, so that two commits
  // never wait for each other in a circle), then locked and read.
  out.push_back({"create_documents",
                 "INSERT INTO sluice.documents (k, v) SELECT k, ''::bytea FROM unnest($1::bytea[]) "
                 "AS u(k) ORDER BY k ON CONFLICT (k) DO NOTHING"});
  out.push_back({"lock_documents",
                 "SELECT k, v FROM sluice.documents WHERE k = ANY($1::bytea[]) ORDER BY k FOR "
                 "UPDATE"});
  return out;
}

// Eight random bytes: what sets one backend's commit tokens apart from every other's.
std::string random_prefix() {
  std::random_device random;
  std::string prefix;
  append_big_endian(prefix, (std::uint64_t{random()} << 32) | random());
  return prefix;
}

std::string statement(std::string_view verb, Table table) {
  return fmt::format("{}_{}", verb, table_name(table));
}

// A stored value as the Backend hands it out: counters as 8 little-endian bytes.
std::string value_of(Table table, const Rows& rows, int row, int column) {
  if (table == Table::kCounters) return encode_counter(rows.int64(row, column));
  return std::string(rows.bytes(row, column));
}

std::int64_t wrapping_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

// What a Mutation leaves behind, key by key: its operations applied in order to what the commit
// knows without reading. Counter adds and document patches on keys the mutation did not set
// first stay deltas, applied where the rows are.
struct Outcome {
  std::array<std::map<std::string, std::optional<std::string>>, kAllTables.size()> writes;
  // Keys that must hold no value before the commit, with the value each insert sets: sent
  // before the writes, which then leave what the rest of the mutation did to them.
  std::array<std::map<std::string, std::string>, kAllTables.size()> inserts;
  // Keys that must hold these values before the commit (Mutation::expect), checked first.
  std::array<std::map<std::string, std::string>, kAllTables.size()> expects;
  std::map<std::string, std::int64_t> counter_deltas;
  std::map<std::string, std::vector<std::string_view>> document_patches;

  std::map<std::string, std::optional<std::string>>& of(Table table) {
    return writes[static_cast<std::size_t>(table)];
  }
};

Result<Outcome> fold(const Mutation& mutation) {
  Outcome outcome;
  for (const auto& operation : mutation.operations()) {
    auto& written = outcome.of(operation.table);
    switch (operation.kind) {
      case Mutation::Kind::kPut:
      case Mutation::Kind::kErase:
        if (operation.table == Table::kCounters && operation.kind == Mutation::Kind::kPut &&
            operation.value.size() != 8) {
          return invalid_argument(fmt::format("counter {} set to a value of {} bytes, not 8",
                                              operation.key, operation.value.size()));
        }
        written[operation.key] = operation.kind == Mutation::Kind::kPut
                                     ? std::optional<std::string>(operation.value)
                                     : std::nullopt;
        // A value set replaces the deltas before it (adds live only on counters, patches only on
        // documents).
        if (operation.table == Table::kCounters) outcome.counter_deltas.erase(operation.key);
        if (operation.table == Table::kDocuments) outcome.document_patches.erase(operation.key);
        break;
      // A condition on a key set earlier in the mutation is checked here; on any other, by the
      // database, on the value the commit finds.
      case Mutation::Kind::kInsert: {
        const auto index = static_cast<std::size_t>(operation.table);
        auto& inserted = outcome.inserts[index];
        if (auto set = written.find(operation.key); set != written.end()) {
          if (set->second) {
            return already_exists("a key the commit inserts holds a value already");
          }
          set->second = operation.value;  // erased earlier in this mutation: free to set
        } else if (outcome.expects[index].contains(operation.key) ||
                   !inserted.emplace(operation.key, operation.value).second) {
          return already_exists("a key the commit inserts holds a value already");
        }
        break;
      }
      case Mutation::Kind::kExpect: {
        const auto index = static_cast<std::size_t>(operation.table);
        std::optional<std::string_view> holds;
        bool known = true;
        if (auto set = written.find(operation.key); set != written.end()) {
          if (set->second) holds = *set->second;
        } else if (auto inserted = outcome.inserts[index].find(operation.key);
                   inserted != outcome.inserts[index].end()) {
          holds = inserted->second;
        } else if (auto expected = outcome.expects[index].find(operation.key);
                   expected != outcome.expects[index].end()) {
          holds = expected->second;
        } else {
          known = false;
          outcome.expects[index].emplace(operation.key, operation.value);
        }
        if (known && holds != operation.value) {
          return failed_precondition("a value the commit expects has changed");
        }
        break;
      }
      case Mutation::Kind::kAdd: {
        const std::int64_t delta = decode_counter(operation.value);
        if (auto set = written.find(operation.key); set != written.end()) {
          const std::int64_t base = set->second ? decode_counter(*set->second) : 0;
          set->second = encode_counter(wrapping_add(base, delta));
        } else {
          auto& sum = outcome.counter_deltas[operation.key];
          sum = wrapping_add(sum, delta);
        }
        break;
      }
      case Mutation::Kind::kPatch:
        if (auto set = written.find(operation.key); set != written.end()) {
          SLUICE_ASSIGN_OR_RETURN(
              std::string patched,
              apply_patches(set->second.value_or(""), {std::string_view(operation.value)}));
          set->second = std::move(patched);
        } else {
          outcome.document_patches[operation.key].push_back(operation.value);
        }
        break;
    }
  }
  return outcome;
}

std::vector<std::string_view> keys_of(const auto& map) {
  std::vector<std::string_view> keys;
  keys.reserve(map.size());
  for (const auto& [key, value] : map) keys.push_back(key);
  return keys;
}

}  // namespace

PostgresBackend::PostgresBackend(const std::string& conninfo, std::size_t connections)
    : pool_(conninfo, statements(), connections),
      cluster_pool_(conninfo, statements(), 2),
      token_prefix_(random_prefix()) {
  for (auto& epoch : held_) epoch = -1;
}

Result<std::unique_ptr<PostgresBackend>> PostgresBackend::open(const std::string& conninfo,
                                                               std::size_t connections) {
  SLUICE_ASSIGN_OR_RETURN(auto admin, Connection::open(conninfo, {}));
  // One transaction (everything up to the sync) under the schema lock: look at the version,
  // then bring the schema up to this build's.
  SLUICE_RETURN_IF_ERROR(
      admin->send_text(fmt::format("SELECT pg_advisory_xact_lock({})", kSchemaLockId)));
  SLUICE_RETURN_IF_ERROR(admin->send_text("CREATE SCHEMA IF NOT EXISTS sluice"));
  SLUICE_RETURN_IF_ERROR(admin->send_text(
      "CREATE TABLE IF NOT EXISTS sluice.schema_version (version integer NOT NULL)"));
  SLUICE_RETURN_IF_ERROR(admin->send_text("SELECT version::bigint FROM sluice.schema_version"));
  SLUICE_RETURN_IF_ERROR(admin->flush());
  auto give_up = [&](Status status) {
    (void)admin->sync();
    (void)admin->finish();
    return status;
  };
  // The lock, the schema and the table answer with no rows; the fourth statement reads the version.
  for (int i = 0; i < 3; ++i) {
    if (auto done = admin->next(); !done.ok()) return give_up(done.status());
  }
  auto found = admin->next();
  if (!found.ok()) return give_up(found.status());
  const std::int64_t version = found->size() == 0 ? 0 : found->int64(0, 0);
  if (version > kSchemaVersion) {
    return give_up(failed_precondition(
        fmt::format("the database holds sluice schema version {}; this build knows versions up "
                    "to {}: upgrade sluice",
                    version, kSchemaVersion)));
  }
  int sent = 0;
  const auto all = migrations();
  for (auto step = static_cast<std::size_t>(version); step < all.size(); ++step) {
    for (const auto& sql : all[step]) {
      SLUICE_RETURN_IF_ERROR(admin->send_text(sql));
      ++sent;
    }
  }
  if (version < kSchemaVersion) {
    SLUICE_RETURN_IF_ERROR(admin->send_text("DELETE FROM sluice.schema_version"));
    SLUICE_RETURN_IF_ERROR(admin->send_text(
        fmt::format("INSERT INTO sluice.schema_version VALUES ({})", kSchemaVersion)));
    sent += 2;
  }
  SLUICE_RETURN_IF_ERROR(admin->sync());
  Status migrated;
  for (int i = 0; i < sent && migrated.ok(); ++i) migrated = admin->next().status();
  const Status finished = admin->finish();
  SLUICE_RETURN_IF_ERROR(migrated);
  SLUICE_RETURN_IF_ERROR(finished);

  std::unique_ptr<PostgresBackend> backend(new PostgresBackend(conninfo, connections));
  // Prepares the statements once now, so that a database that cannot take them fails the open.
  SLUICE_RETURN_IF_ERROR(backend->pool_.acquire().status());
  return backend;
}

Status PostgresBackend::apply_once(Connection& connection, const Mutation& mutation,
                                   std::string_view token, std::string& transaction) {
  SLUICE_ASSIGN_OR_RETURN(Outcome outcome, fold(mutation));
  int pending = 0;  // statements sent whose results are unread
  bool synced = false;
  auto give_up = [&](Status status) {
    if (!synced) {
      // Rolls back even when only this side failed (a patch that does not apply): an error
      // ends the implicit transaction, where the sync alone would commit it.
      (void)connection.send_text("DO $$ BEGIN RAISE EXCEPTION 'sluice: commit abandoned'; END $$");
      (void)connection.sync();
    }
    (void)connection.finish();
    return status;
  };

  // First round trip: the fence, the transaction's id, and the documents to patch, locked.
  std::int64_t epoch = -1;
  if (mutation.fence() && fencing_.load()) {
    epoch = held_.at(*mutation.fence()).load();
    if (epoch < 0) {
      return unavailable(
          fmt::format("this node does not hold partition {} any more", *mutation.fence()));
    }
    Parameters fenced;
    fenced.int64(*mutation.fence()).int64(epoch);
    SLUICE_RETURN_IF_ERROR(connection.send("fence", fenced));
  }
  SLUICE_RETURN_IF_ERROR(connection.send("xact_id", {}));
  const bool patches = !outcome.document_patches.empty();
  if (patches) {
    Parameters locked;
    locked.bytes_array(keys_of(outcome.document_patches));
    SLUICE_RETURN_IF_ERROR(connection.send("create_documents", locked));
    SLUICE_RETURN_IF_ERROR(connection.send("lock_documents", locked));
  }
  SLUICE_RETURN_IF_ERROR(connection.flush());
  if (epoch >= 0) {
    if (auto held = connection.next(); !held.ok()) return give_up(held.status());
  }
  auto id = connection.next();
  if (!id.ok()) return give_up(id.status());
  std::string assigned(id->bytes(0, 0));
  if (patches) {
    if (auto created = connection.next(); !created.ok()) return give_up(created.status());
    auto rows = connection.next();
    if (!rows.ok()) return give_up(rows.status());
    std::map<std::string_view, std::string_view> current;
    for (int row = 0; row < rows->size(); ++row) current[rows->bytes(row, 0)] = rows->bytes(row, 1);
    auto& documents = outcome.of(Table::kDocuments);
    for (const auto& [key, stacked] : outcome.document_patches) {
      auto patched = apply_patches(current[key], stacked);
      if (!patched.ok()) return give_up(patched.status());
      documents[key] = std::move(*patched);
    }
  }

  for (Table table : kAllTables) {
    const auto& expected = outcome.expects[static_cast<std::size_t>(table)];
    if (expected.empty()) continue;
    std::vector<std::string_view> values;
    for (const auto& [key, value] : expected) values.push_back(value);
    Parameters parameters;
    parameters.bytes_array(keys_of(expected)).bytes_array(values);
    SLUICE_RETURN_IF_ERROR(connection.send(statement("expect", table), parameters));
    ++pending;
  }
  for (Table table : kAllTables) {
    const auto& inserted = outcome.inserts[static_cast<std::size_t>(table)];
    if (inserted.empty()) continue;
    std::vector<std::string_view> values;
    for (const auto& [key, value] : inserted) values.push_back(value);
    Parameters parameters;
    parameters.bytes_array(keys_of(inserted)).bytes_array(values);
    SLUICE_RETURN_IF_ERROR(connection.send(statement("insert", table), parameters));
    ++pending;
  }
  for (Table table : kAllTables) {
    std::vector<std::string_view> erased, put;
    std::vector<std::string_view> values;
    std::vector<std::int64_t> numbers;
    for (const auto& [key, value] : outcome.of(table)) {
      if (!value) {
        erased.push_back(key);
      } else {
        put.push_back(key);
        if (table == Table::kCounters) {
          numbers.push_back(decode_counter(*value));
        } else {
          values.push_back(*value);
        }
      }
    }
    if (!erased.empty()) {
      Parameters parameters;
      parameters.bytes_array(erased);
      SLUICE_RETURN_IF_ERROR(connection.send(statement("erase", table), parameters));
      ++pending;
    }
    if (!put.empty()) {
      Parameters parameters;
      parameters.bytes_array(put);
      if (table == Table::kCounters) {
        parameters.int64_array(numbers);
      } else {
        parameters.bytes_array(values);
      }
      SLUICE_RETURN_IF_ERROR(connection.send(statement("put", table), parameters));
      ++pending;
    }
  }
  if (!outcome.counter_deltas.empty()) {
    std::vector<std::int64_t> deltas;
    for (const auto& [key, delta] : outcome.counter_deltas) deltas.push_back(delta);
    Parameters parameters;
    parameters.bytes_array(keys_of(outcome.counter_deltas)).int64_array(deltas);
    SLUICE_RETURN_IF_ERROR(connection.send("add_counters", parameters));
    ++pending;
  }

  Parameters marked;
  marked.bytes(token);
  SLUICE_RETURN_IF_ERROR(connection.send("mark_commit", marked));
  ++pending;
  if (tokens_.load() % kForgetCommitsEvery == 0) {
    SLUICE_RETURN_IF_ERROR(connection.send("forget_commits", {}));
    ++pending;
  }

  transaction = std::move(assigned);  // from here on, COMMIT may be on its way
  synced = true;
  SLUICE_RETURN_IF_ERROR(connection.sync());
  for (; pending > 0; --pending) {
    if (auto done = connection.next(); !done.ok()) return give_up(done.status());
  }
  return connection.finish();
}

Result<std::uint64_t> PostgresBackend::apply(const Mutation& mutation) {
  Status status;
  for (int attempt = 0; attempt < kCommitAttempts; ++attempt) {
    std::string token = token_prefix_;
    append_big_endian(token, tokens_.fetch_add(1));
    std::string transaction;
    int session = 0;
    bool lost = false;
    std::string sqlstate;
    {
      SLUICE_ASSIGN_OR_RETURN(auto connection, pool_.acquire());
      session = connection->backend_pid();
      status = apply_once(*connection, mutation, token, transaction);
      lost = connection->broken();
      sqlstate = connection->sqlstate();
    }  // given back (closed, if lost) before resolve() asks the pool for another
    if (!status.ok() && lost && !transaction.empty()) {
      // The connection went while COMMIT may have been on its way: ask how it ended.
      auto landed = resolve(token, transaction, session);
      if (!landed.ok()) {
        return Status(landed.status().code(),
                      fmt::format("storage: {}; the commit may or may not have been applied",
                                  landed.status().message()));
      }
      if (*landed) status = Status();
    }
    if (status.ok()) return commits_.fetch_add(1) + 1;
    if (sqlstate == "SL001") {
      if (fenced_) fenced_(*mutation.fence(), status);
      break;
    }
    // Two commits that waited for each other: PostgreSQL rolled one back; it can go again.
    if (sqlstate != "40P01" && sqlstate != "40001") break;
  }
  // Whatever failed, the transaction did not commit.
  return Status(status.code(), fmt::format("storage: {}; nothing was applied", status.message()));
}

Result<bool> PostgresBackend::resolve(std::string_view token, const std::string& transaction,
                                      int session) {
  using Clock = std::chrono::steady_clock;
  auto reachable_until = Clock::now() + kResolveFor;
  const auto last_try = Clock::now() + kResolveAtMost;
  std::optional<Clock::time_point> running_since;
  Status status;
  // One statement, answered on `connection`; its own sync, so its own snapshot.
  auto ask = [](Connection& connection, const std::string& name,
                const Parameters& parameters) -> Result<Rows> {
    Status sent = connection.send(name, parameters);
    if (sent.ok()) sent = connection.sync();
    Result<Rows> answer = sent.ok() ? connection.next() : Result<Rows>(sent);
    const Status finished = connection.finish();
    if (answer.ok() && !finished.ok()) return finished;
    return answer;
  };
  for (; Clock::now() < reachable_until && Clock::now() < last_try;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    auto connection = pool_.acquire();
    if (!connection.ok()) {
      status = connection.status();
      continue;
    }
    reachable_until = Clock::now() + kResolveFor;
    // First: is the transaction over? After a crash its id may be handed out again ("in the
    // future" until then), so its status says only that; its token says whether it committed.
    Parameters asked;
    asked.bytes(transaction);
    auto answer = ask(**connection, "xact_status", asked);
    if (!answer.ok() && (*connection)->sqlstate() != "22023") {
      status = answer.status();
      continue;
    }
    if (answer.ok() && !answer->is_null(0, 0) && answer->bytes(0, 0) == "in progress") {
      // Its session lives on, the client side cut: end it, after a moment to finish by itself.
      status = unavailable(fmt::format("transaction {} is still in progress", transaction));
      if (!running_since) running_since = Clock::now();
      if (Clock::now() - *running_since >= kEndSessionAfter) {
        Parameters ended;
        ended.int64(session).bytes(transaction);
        (void)ask(**connection, "end_session", ended);
      }
      continue;
    }
    if (answer.ok() && answer->is_null(0, 0)) {
      return unavailable(fmt::format("transaction {} is too old to look up", transaction));
    }
    // Over: a statement begun now sees whatever it committed.
    Parameters marked;
    marked.bytes(token);
    auto found = ask(**connection, "find_commit", marked);
    if (!found.ok()) {
      status = found.status();
      continue;
    }
    return found->size() > 0;
  }
  return status;
}

Result<unsigned> PostgresBackend::partition_count(unsigned wanted) {
  Parameters parameters;
  parameters.int64(wanted);
  SLUICE_ASSIGN_OR_RETURN(Rows rows, read("create_cluster", parameters));
  return static_cast<unsigned>(rows.int64(0, 0));
}

Status PostgresBackend::heartbeat(std::string_view node, std::string_view address,
                                  std::chrono::milliseconds lease) {
  Parameters parameters;
  parameters.bytes(node).bytes(address).int64(lease.count());
  SLUICE_RETURN_IF_ERROR(read(cluster_pool_, "heartbeat", parameters).status());
  if (heartbeats_.fetch_add(1) % kForgetCommitsEvery == 0) {
    SLUICE_RETURN_IF_ERROR(read(cluster_pool_, "forget_nodes", {}).status());
  }
  return {};
}

Status PostgresBackend::give_back(std::string_view node, std::span<const unsigned> partitions) {
  std::vector<std::int64_t> ids(partitions.begin(), partitions.end());
  Parameters parameters;
  parameters.bytes(node).int64_array(ids);
  return read(cluster_pool_, "give_back", parameters).status();
}

Status PostgresBackend::leave(std::string_view node) {
  Parameters parameters;
  parameters.bytes(node);
  return read(cluster_pool_, "leave", parameters).status();
}

void PostgresBackend::identify(std::string_view node) {
  pool_.set_application_name(std::string(node));
  cluster_pool_.set_application_name(std::string(node));
}

Result<std::vector<PartitionOwner>> PostgresBackend::acquire(std::string_view node,
                                                             std::span<const unsigned> partitions,
                                                             std::chrono::milliseconds lease,
                                                             std::chrono::milliseconds lock_wait) {
  std::vector<std::int64_t> ids(partitions.begin(), partitions.end());
  Parameters parameters;
  parameters.bytes(node).int64_array(ids).int64(lease.count());
  // The holder's commits under way hold its partitions' rows, and a taking waits for them; but a
  // holder paused mid-commit (a document patch takes two round trips) would hold them until it
  // wakes. So a taking waits briefly, then ends the sessions of every node whose lease ran out
  // (their commits then fail, and the fence refuses them from here on) and tries again later.
  Rows rows;
  bool waited_too_long = false;
  {
    SLUICE_ASSIGN_OR_RETURN(auto connection, cluster_pool_.acquire());
    Parameters brief;
    brief.bytes(fmt::format("{}ms", std::max<std::int64_t>(1, lock_wait.count())));
    Status status = connection->send("lock_briefly", brief);
    if (status.ok()) status = connection->send("acquire", parameters);
    if (status.ok()) status = connection->sync();
    if (status.ok()) status = connection->next().status();
    Result<Rows> answer = status.ok() ? connection->next() : Result<Rows>(status);
    const Status finished = connection->finish();
    if (answer.ok() && !finished.ok()) answer = finished;
    if (answer.ok()) {
      rows = std::move(*answer);
    } else if (connection->sqlstate() == "55P03") {
      waited_too_long = true;
    } else {
      return Status(answer.status().code(), fmt::format("storage: {}", answer.status().message()));
    }
  }  // given back before asking the pool for another
  if (waited_too_long) {
    SLUICE_RETURN_IF_ERROR(read(cluster_pool_, "end_stale_sessions", parameters).status());
    return std::vector<PartitionOwner>();
  }
  std::vector<PartitionOwner> taken;
  for (int row = 0; row < rows.size(); ++row) {
    taken.push_back(
        {static_cast<unsigned>(rows.int64(row, 0)), std::string(node), rows.int64(row, 1)});
  }
  return taken;
}

void PostgresBackend::hold(unsigned partition, std::int64_t epoch) {
  held_.at(partition) = epoch;
  fencing_ = true;
}

void PostgresBackend::release(unsigned partition) { held_.at(partition) = -1; }

Result<ClusterView> PostgresBackend::cluster() {
  ClusterView view;
  SLUICE_ASSIGN_OR_RETURN(Rows nodes, read(cluster_pool_, "cluster_nodes", {}));
  for (int row = 0; row < nodes.size(); ++row) {
    view.nodes.push_back({std::string(nodes.bytes(row, 0)), std::string(nodes.bytes(row, 1)),
                          nodes.int64(row, 2), nodes.int64(row, 3), nodes.int64(row, 4) != 0});
  }
  SLUICE_ASSIGN_OR_RETURN(Rows owners, read(cluster_pool_, "cluster_partitions", {}));
  for (int row = 0; row < owners.size(); ++row) {
    view.owners.push_back({static_cast<unsigned>(owners.int64(row, 0)),
                           std::string(owners.bytes(row, 1)), owners.int64(row, 2)});
  }
  view.partitions = static_cast<unsigned>(view.owners.size());
  return view;
}

Status PostgresBackend::wait_durable(std::uint64_t ticket) {
  // apply() returned after PostgreSQL made the commit durable.
  if (ticket > commits_.load()) return internal_error("wait_durable: a ticket never handed out");
  return {};
}

Result<Rows> PostgresBackend::read(postgres::ConnectionPool& pool,
                                   const std::string& statement_name,
                                   const Parameters& parameters) {
  Status status;
  for (int attempt = 0; attempt < 2; ++attempt) {
    SLUICE_ASSIGN_OR_RETURN(auto connection, pool.acquire());
    status = connection->send(statement_name, parameters);
    if (status.ok()) status = connection->sync();
    if (status.ok()) {
      auto rows = connection->next();
      status = connection->finish();
      if (!rows.ok()) status = rows.status();
      if (status.ok()) return std::move(*rows);
    }
    if (!connection->broken()) break;
  }
  return Status(status.code(), fmt::format("storage: {}", status.message()));
}

Result<std::optional<std::string>> PostgresBackend::get(Table table, std::string_view key) {
  Parameters parameters;
  parameters.bytes(key);
  SLUICE_ASSIGN_OR_RETURN(Rows rows, read(statement("get", table), parameters));
  if (rows.size() == 0) return std::optional<std::string>();
  return std::optional<std::string>(value_of(table, rows, 0, 0));
}

Result<std::vector<std::optional<std::string>>> PostgresBackend::get_many(
    Table table, std::span<const std::string> keys) {
  std::vector<std::optional<std::string>> found(keys.size());
  if (keys.empty()) return found;
  std::vector<std::string_view> views(keys.begin(), keys.end());
  Parameters parameters;
  parameters.bytes_array(views);
  SLUICE_ASSIGN_OR_RETURN(Rows rows, read(statement("get_many", table), parameters));
  std::map<std::string_view, int> row_of;
  for (int row = 0; row < rows.size(); ++row) row_of[rows.bytes(row, 0)] = row;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (auto it = row_of.find(keys[i]); it != row_of.end()) {
      found[i] = value_of(table, rows, it->second, 1);
    }
  }
  return found;
}

Result<std::vector<Entry>> PostgresBackend::scan(Table table, const ScanOptions& options) {
  // Keys under the prefix sort before the prefix with its last byte below 0xff raised by one.
  std::string upper = options.prefix;
  while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff) upper.pop_back();
  if (!upper.empty()) upper.back() = static_cast<char>(upper.back() + 1);
  Parameters parameters;
  parameters.bytes(options.prefix);
  if (!upper.empty()) parameters.bytes(upper);
  if (options.after) parameters.bytes(*options.after);
  parameters.int64(static_cast<std::int64_t>(
      std::min<std::size_t>(options.limit, std::numeric_limits<std::int64_t>::max())));
  SLUICE_ASSIGN_OR_RETURN(
      Rows rows, read(scan_name(table, options.reverse, options.after.has_value(), !upper.empty()),
                      parameters));
  std::vector<Entry> entries;
  entries.reserve(static_cast<std::size_t>(rows.size()));
  for (int row = 0; row < rows.size(); ++row) {
    entries.push_back({std::string(rows.bytes(row, 0)), value_of(table, rows, row, 1)});
  }
  return entries;
}

}  // namespace sluice::storage
