#pragma once

// ClusterView: the nodes that share one database and which of them holds each partition, as
// GET /api/cluster and `sluice cluster` show it.

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"

namespace sluice::storage {

// engine.partitions can be no more than this.
inline constexpr unsigned kMaxPartitions = 256;

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
