#include "queue/message.h"

#include "storage/mutation.h"

namespace sluice::queue {

namespace {
constexpr char kVersion = 1;
constexpr size_t kHeaderSize = 1 + 8 + 1;
}  // namespace

std::string encode_message(const Message& message) {
  SLUICE_CHECK(!message.id.empty() && message.id.size() <= 255);
  std::string stored;
  stored.reserve(kHeaderSize + message.id.size() + message.body.size());
  stored.push_back(kVersion);
  stored += storage::encode_counter(message.enqueued_at);
  stored.push_back(static_cast<char>(message.id.size()));
  stored += message.id;
  stored += message.body;
  return stored;
}

Result<Message> decode_message(const Position& position, std::string_view stored) {
  if (stored.size() < kHeaderSize || stored[0] != kVersion) {
    return corruption("queue message has an unknown format");
  }
  const size_t id_size = static_cast<unsigned char>(stored[9]);
  if (id_size == 0 || stored.size() < kHeaderSize + id_size) {
    return corruption("queue message is truncated");
  }
  Message message;
  message.position = position;
  message.enqueued_at = storage::decode_counter(stored.substr(1, 8));
  message.id = stored.substr(kHeaderSize, id_size);
  message.body = stored.substr(kHeaderSize + id_size);
  return message;
}

}  // namespace sluice::queue
