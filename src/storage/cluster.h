#pragma once

// ClusterView: the nodes that share one database and which of them holds each partition, as
// GET /api/cluster and `sluice cluster` show it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"

namespace sluice::storage {

// engine.partitions can be no more than this.
inline constexpr unsigned kMaxPartitions = 256;

// The partition an instance id (an event's id, for the intake queue) belongs to. FNV-1a: stable
// across builds and machines, so every node agrees and an id keeps its partition for a count.
inline unsigned partition_of(std::string_view id, unsigned partitions) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : id) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return static_cast<unsigned>(hash % partitions);
}

struct ClusterNode {
  std::string name;     // unique per process: a restarted node joins under a new name
  std::string address;  // where it listens for HTTP
  Micros started_at = 0;
  Micros expires_at = 0;  // its lease: it is live until then (the database's clock)
  bool live = false;
};

struct PartitionOwner {
  unsigned partition = 0;
  std::string owner;       // empty when nobody holds it
  std::int64_t epoch = 0;  // goes up by one each time a node takes the partition
};

struct ClusterView {
  unsigned partitions = 0;
  std::vector<ClusterNode> nodes;
  std::vector<PartitionOwner> owners;  // by partition
};

}  // namespace sluice::storage
