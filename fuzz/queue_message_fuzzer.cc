// The queue's stored-message decoder on arbitrary bytes: damage is refused with a Status, never a
// crash; a message that decodes encodes back to bytes that decode to the same message.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "queue/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::queue;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Position position{3, {1'700'000'000'000'000, 42}, 7};
  auto message = decode_message(position, bytes);
  if (!message.ok()) return 0;
  auto again = decode_message(position, encode_message(*message));
  if (!again.ok() || again->id != message->id || again->body != message->body ||
      again->enqueued_at != message->enqueued_at || again->position != position) {
    std::abort();
  }
  return 0;
}
