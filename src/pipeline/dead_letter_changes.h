#pragma once

// Replaying and deleting dead letters. Each change is one commit that rests on the record exactly
// as it was read (an engine::Expectation), made on the partition that owns the letter's replay
// instance, "{id}:replay-{n}" with n one more than the failed run's. So of two changes to one
// record, a replay and a delete or two of either, one applies and the other is refused with
// kFailedPrecondition, however many requests race; the dead-letter count moves once. The rule
// holds on several nodes as long as each partition's turns come from one node at a time.
// Not covered: a record rewritten meanwhile by a run of the same event that was started by other
// means (a restart through the management API), whose partition is another; such a rewrite can be
// the one a change then removes.

#include <string>
#include <string_view>

#include "core/clock.h"
#include "engine/engine.h"
#include "queue/dead_letter_store.h"

namespace sluice::pipeline {

// A change to one dead letter, prepared from its record as read.
struct DeadLetterChange {
  std::string id;
  std::string replay_instance_id;  // where the change is ordered, and the replay's new instance
  engine::Expectation record;      // the record as read
  std::string replay_input;        // the process_event input that replays its event; empty if none
};

// The id of the instance that replays letter `id` after its run `failed_instance` failed.
std::string replay_instance_id(std::string_view id, std::string_view failed_instance);

// Reads letter `id` for a change: kNotFound if there is none. An event kept without the time it
// was received counts as received `now`. Blocks on storage.
Result<DeadLetterChange> read_dead_letter(queue::DeadLetterStore& store, std::string_view id,
                                          Micros now);

// Starts process_event for the letter's event, as received first, and removes the letter, in
// one commit. The event's stats count it once still: its first counting left a marker.
// kInvalidArgument if the record holds no event. `reply` runs on a partition thread, or at once.
void replay_dead_letter(engine::Engine& engine, queue::DeadLetterStore& store,
                        DeadLetterChange change, engine::Reply reply);

// Removes the letter. `reply` runs on a partition thread.
void delete_dead_letter(engine::Engine& engine, queue::DeadLetterStore& store,
                        DeadLetterChange change, engine::Reply reply);

}  // namespace sluice::pipeline
