#pragma once

// Mutation: a list of changes that a Backend applies atomically, all or none.
//
// Modules add to one Mutation whatever belongs together — a consumer's take of a queue message
// and the records it writes for it, say — so that a crash can never separate them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/table.h"

namespace sluice::storage {

class DocumentPatch;

class Mutation {
 public:
  enum class Kind : std::uint8_t {
    kPut,     // set key to value
    kErase,   // remove key (no error when absent)
    kAdd,     // add a signed 64-bit delta to a counter (Table::kCounters only)
    kPatch,   // merge a DocumentPatch into a JSON document (Table::kDocuments only)
    kInsert,  // set key to value, which must hold none (neither counters nor documents)
    kExpect,  // change nothing; key must hold value (neither counters nor documents)
  };
  struct Operation {
    Kind kind;
    Table table;
    std::string key;
    std::string
        value;  // kPut: the value; kAdd: the delta as 8 little-endian bytes; kPatch: encoded
  };

  void put(Table table, std::string_view key, std::string_view value);
  void erase(Table table, std::string_view key);
  // put() of a key that must hold no value: if it holds one when the mutation commits (set by
  // another commit, or earlier in this mutation), nothing is applied and the commit fails with
  // AlreadyExists. Among commits racing to insert one key, one wins, on any backend. Not for
  // counters or documents.
  void insert(Table table, std::string_view key, std::string_view value);
  // A condition: if `key` does not hold exactly `value` at this point of the mutation when it
  // commits, nothing is applied and the commit fails with FailedPrecondition. A commit that
  // expects what it read applies only if nobody changed it meanwhile. Not for counters or
  // documents.
  void expect(Table table, std::string_view key, std::string_view value);
  // (When an insert and an expectation of one commit both fail, which of the two errors it
  // reports is unspecified.)
  // Adds to one counter with nothing else on it in between become one operation: the intake
  // queue's depth, for one, takes a delta per message and a partition commits thousands at once.
  void add(std::string_view counter, std::int64_t delta);
  // Likewise patches to one document become one patch with the operations of each, in order: a
  // partition turn counts many events of one stream into that stream's stats.
  void patch(std::string_view document_key, const DocumentPatch& patch);

  // Moves every operation of `other` to the end of this one, and its fence if this has none.
  void absorb(Mutation&& other);

  // Commits only while this node holds `partition` at the epoch it took it with: a backend
  // shared by several nodes checks that in the same transaction and otherwise applies nothing.
  // A backend used by one process alone has nothing to check.
  void fence_by(unsigned partition) { fence_ = partition; }
  std::optional<unsigned> fence() const { return fence_; }

  // Whether it holds an insert() or expect(), whose check a backend must make atomic with the
  // write.
  bool conditional() const { return conditional_; }

  const std::vector<Operation>& operations() const { return operations_; }
  bool empty() const { return operations_.empty(); }
  // Bytes of keys and values, for sizing batches.
  std::size_t byte_size() const { return byte_size_; }

 private:
  void append(Operation&& operation);

  std::vector<Operation> operations_;
  std::size_t byte_size_ = 0;
  std::optional<unsigned> fence_;
  bool conditional_ = false;
  // For each counter whose last operation here is an add, that add's index; the same for
  // documents and patches.
  std::unordered_map<std::string, std::size_t> last_add_;
  std::unordered_map<std::string, std::size_t> last_patch_;
};

// Counter deltas travel as 8 little-endian bytes; counters are stored the same way.
std::string encode_counter(std::int64_t value);
std::int64_t decode_counter(std::string_view bytes);  // bytes.size() must be 8

}  // namespace sluice::storage
