#include "engine/instance_record.h"

#include "core/binary_codec.h"

namespace sluice::engine {

namespace {
// Version 1 stored the input in the record, which is rewritten on every step. Version 2 leaves it
// to the history: the run's ExecutionStarted event (chunk 0) holds it, written once. Version 3
// adds the history of a run that finished in one step, saving that run a second key.
constexpr std::uint8_t kFormatVersion = 3;
constexpr std::uint8_t kFormatVersionWithoutHistory = 2;
constexpr std::uint8_t kFormatVersionWithInput = 1;
constexpr std::string_view kStatusNames[] = {"Pending", "Running",    "Completed",
                                             "Failed",  "Terminated", "Suspended"};
}  // namespace

std::string_view runtime_status_name(RuntimeStatus status) {
  return kStatusNames[static_cast<std::size_t>(status)];
}

bool parse_runtime_status(std::string_view name, RuntimeStatus& out) {
  for (std::size_t i = 0; i < std::size(kStatusNames); ++i) {
    if (kStatusNames[i] == name) {
      out = static_cast<RuntimeStatus>(i);
      return true;
    }
  }
  return false;
}

std::string encode_record(const InstanceRecord& record) {
  std::string out;
  BinaryWriter writer(out);
  writer.byte(kFormatVersion);
  writer.bytes(record.name);
  writer.byte(static_cast<std::uint8_t>(record.status));
  writer.bytes(record.output);
  writer.bytes(record.custom_status);
  writer.signed_varint(record.created_at);
  writer.signed_varint(record.updated_at);
  writer.varint(record.history_chunks);
  writer.bytes(record.parent_id);
  writer.signed_varint(record.parent_task);
  writer.signed_varint(record.next_task_id);
  writer.bytes(record.history);
  return out;
}

Result<InstanceRecord> decode_record(std::string_view instance_id, std::string_view encoded) {
  BinaryReader reader(encoded);
  const std::uint8_t version = reader.byte();
  if (version != kFormatVersion && version != kFormatVersionWithoutHistory &&
      version != kFormatVersionWithInput) {
    return corruption("instance record has an unknown format");
  }
  InstanceRecord record;
  record.instance_id = instance_id;
  record.name = reader.bytes();
  const std::uint8_t status = reader.byte();
  if (version == kFormatVersionWithInput) record.input = reader.bytes();
  record.output = reader.bytes();
  record.custom_status = reader.bytes();
  record.created_at = reader.signed_varint();
  record.updated_at = reader.signed_varint();
  record.history_chunks = static_cast<std::uint32_t>(reader.varint());
  record.parent_id = reader.bytes();
  record.parent_task = reader.signed_varint();
  record.next_task_id = reader.signed_varint();
  if (version == kFormatVersion) record.history = reader.bytes();
  if (!reader.ok() || !reader.at_end() ||
      status > static_cast<std::uint8_t>(RuntimeStatus::kSuspended)) {
    return corruption("instance record " + std::string(instance_id) + " is damaged");
  }
  record.status = static_cast<RuntimeStatus>(status);
  return record;
}

}  // namespace sluice::engine
