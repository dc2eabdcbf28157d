#pragma once

// Backend: the contract between sluice and durable state.
//
// A Backend is a set of ordered keyspaces (Tables) with atomic, durable multi-key commits. Modules
// above it (queue, docs, later the engine) define their key layouts and build Mutations; a
// Backend knows nothing of queues or documents beyond applying DocumentPatches. The embedded
// implementation is RocksDB (storage/rocks); the contract is kept to what a SQL database shared by
// several nodes can also provide.
//
// All methods are thread-safe and blocking: call them from a thread that may block, never from an
// HTTP or engine executor thread.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/status.h"
#include "storage/mutation.h"
#include "storage/table.h"

namespace sluice::storage {

struct Entry {
  std::string key;
  std::string value;
};

struct ScanOptions {
  std::string prefix;                // only keys that start with this
  std::optional<std::string> after;  // exclusive start: keys after it (before it when reverse)
  std::size_t limit = 100;
  bool reverse = false;  // newest-last keys read newest first
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Applies every operation of `mutation` atomically. When this returns OK the change is on disk
  // (fsync'd) and survives any crash; on error none of it is applied, unless the disk failed a
  // sync, which fails the backend: then every later call fails too. Concurrent commits from
  // several threads share one disk sync. Other threads may read a commit shortly before it
  // returns; only a machine crash in that moment can undo it, together with every later commit.
  Status commit(const Mutation& mutation) {
    SLUICE_ASSIGN_OR_RETURN(const std::uint64_t ticket, apply(mutation));
    return wait_durable(ticket);
  }

  // commit() in two halves, for a caller with more to do while its change reaches the disk.
  // apply() applies `mutation` atomically and returns a ticket: the change is readable at once
  // and on disk once wait_durable(ticket) returns OK. applied() is a ticket for every apply()
  // that has returned, for an answer that rests on what was read rather than written.
  //
  // An error means nothing was applied, except Unavailable from a database that went away while
  // the commit was on its way and stayed away: then the outcome is unknown, and a caller must not
  // assume either (it reads back what storage holds, or spends what the commit would have used).
  virtual Result<std::uint64_t> apply(const Mutation& mutation) = 0;
  virtual std::uint64_t applied() = 0;
  virtual Status wait_durable(std::uint64_t ticket) = 0;

  // The value at `key`, or nullopt.
  virtual Result<std::optional<std::string>> get(Table table, std::string_view key) = 0;

  // The values at `keys`, in the same order.
  virtual Result<std::vector<std::optional<std::string>>> get_many(
      Table table, std::span<const std::string> keys) = 0;

  // A counter's value (kept in Table::kCounters); 0 if it was never changed.
  Result<std::int64_t> counter(std::string_view key);

  // Up to options.limit entries in key order (reverse order if asked).
  virtual Result<std::vector<Entry>> scan(Table table, const ScanOptions& options) = 0;
};

}  // namespace sluice::storage
