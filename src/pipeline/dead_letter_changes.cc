#include "pipeline/dead_letter_changes.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>

#include "pipeline/envelope.h"
#include "pipeline/process_event.h"

namespace sluice::pipeline {

namespace json = boost::json;

std::string replay_instance_id(std::string_view id, std::string_view failed_instance) {
  const std::string prefix = fmt::format("{}:replay-", id);
  std::uint64_t failed_replay = 0;  // the first run is no replay
  if (failed_instance.starts_with(prefix)) {
    const std::string_view number = failed_instance.substr(prefix.size());
    std::uint64_t parsed = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), parsed);
    if (error == std::errc() && end == number.data() + number.size()) failed_replay = parsed;
  }
  return fmt::format("{}{}", prefix, failed_replay + 1);
}

Result<DeadLetterChange> read_dead_letter(queue::DeadLetterStore& store, std::string_view id,
                                          Micros now) {
  SLUICE_ASSIGN_OR_RETURN(auto letter, store.get(id));
  if (!letter) return not_found("no such dead letter");
  boost::system::error_code error;
  const json::value record = json::parse(letter->record, error);
  // A damaged record can still be deleted: only a replay needs its event.
  const json::object* fields = error ? nullptr : record.if_object();
  static const json::object kNoFields;
  if (fields == nullptr) fields = &kNoFields;
  std::string_view failed_instance;
  if (const auto* instance = fields->if_contains("instance_id");
      instance != nullptr && instance->is_string()) {
    failed_instance = instance->get_string();
  }
  DeadLetterChange change;
  change.id = std::string(id);
  change.replay_instance_id = replay_instance_id(id, failed_instance);
  if (const auto* event = fields->if_contains("event"); event != nullptr && !event->is_null()) {
    Micros received_at = now;
    if (const auto* received = fields->if_contains("received_at");
        received != nullptr && received->is_string()) {
      parse_rfc3339(received->get_string(), received_at);
    }
    change.replay_input = make_envelope(json::serialize(*event), received_at);
  }
  change.record = {storage::Table::kDeadLetter, store.key(id), std::move(letter->record)};
  return change;
}

void replay_dead_letter(engine::Engine& engine, queue::DeadLetterStore& store,
                        DeadLetterChange change, engine::Reply reply) {
  if (change.replay_input.empty()) {
    return reply(
        invalid_argument(fmt::format("dead letter {} holds no event to replay", change.id)));
  }
  engine::StartRequest request;
  request.name = kProcessEvent;
  request.instance_id = change.replay_instance_id;
  request.input = std::move(change.replay_input);
  // A finished instance under the id (started by other means) gives way; a running one refuses.
  request.replace_finished = true;
  storage::Mutation removal;
  store.remove(removal, change.id);
  engine.start_instance(std::move(request), std::move(reply), std::move(removal),
                        {std::move(change.record)});
}

void delete_dead_letter(engine::Engine& engine, queue::DeadLetterStore& store,
                        DeadLetterChange change, engine::Reply reply) {
  storage::Mutation removal;
  store.remove(removal, change.id);
  engine.commit_if(std::move(change.replay_instance_id), {std::move(change.record)},
                   std::move(removal), std::move(reply));
}

}  // namespace sluice::pipeline
