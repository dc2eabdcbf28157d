#include "connectors/twitch/twitch_settings.h"

#include <algorithm>

namespace sluice::twitch {

void declare_settings(settings::Schema& schema, TwitchSettings& twitch) {
  schema
      .custom("twitch.secret", "",
              "the secret given to Twitch when subscribing (10 to 100 ASCII characters); "
              "enables `POST /api/twitch/eventsub`, which it authenticates",
              [&twitch](std::string_view value) -> Status {
                if (value.empty()) {
                  twitch.secret.reset();
                  return {};
                }
                const bool ascii = std::all_of(value.begin(), value.end(),
                                               [](char c) { return c >= 0x20 && c < 0x7f; });
                if (value.size() < 10 || value.size() > 100 || !ascii) {
                  return invalid_argument(
                      "must be 10 to 100 printable ASCII characters, as Twitch requires");
                }
                twitch.secret = std::string(value);
                return {};
              })
      .secret();
  schema.integer<std::int64_t>(
      "twitch.max_message_age_seconds", twitch.max_message_age_seconds, 1, 3600,
      "EventSub messages whose timestamp is older, or further ahead, than this are refused");
  schema.choice("twitch.stream_id", twitch.stream_id, {"login", "id"},
                "which of the broadcaster's names becomes the event's `stream_id`");
}

}  // namespace sluice::twitch
