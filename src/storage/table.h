#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice::storage {

// The kinds of durable record. Each is its own ordered keyspace (a RocksDB column family; later a
// PostgreSQL table). Keys are byte strings compared bytewise; their layouts are owned by the
// modules named below and written down in storage/README.md.
enum class Table : std::uint8_t {
  kMeta,         // storage: format version. queue: next sequence numbers
  kQueue,        // queue: queued messages
  kIdempotency,  // queue: event ids already accepted
  kDeadLetter,   // queue: dead-letter records
  kDocuments,    // docs: JSON documents
  kCounters,     // anyone: signed 64-bit counters changed by commutative adds
  kInstances,    // engine: orchestration instance records
  kHistory,      // engine: orchestration history chunks
  kActive,       // engine: ids of instances that have not finished
};

inline constexpr std::array kAllTables = {
    Table::kMeta,     Table::kQueue,     Table::kIdempotency, Table::kDeadLetter, Table::kDocuments,
    Table::kCounters, Table::kInstances, Table::kHistory,     Table::kActive};

constexpr std::string_view table_name(Table table) {
  switch (table) {
    case Table::kMeta:
      return "meta";
    case Table::kQueue:
      return "queue";
    case Table::kIdempotency:
      return "idempotency";
    case Table::kDeadLetter:
      return "deadletter";
    case Table::kDocuments:
      return "documents";
    case Table::kCounters:
      return "counters";
    case Table::kInstances:
      return "instances";
    case Table::kHistory:
      return "history";
    case Table::kActive:
      return "active";
  }
  return "unknown";
}

}  // namespace sluice::storage
