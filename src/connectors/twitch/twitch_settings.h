#pragma once

// The Twitch EventSub connector's settings, `twitch.*`. With no `twitch.secret`, the EventSub
// route answers 404 as any unknown path would.

#include <cstdint>
#include <optional>
#include <string>

#include "core/settings.h"

namespace sluice::twitch {

struct TwitchSettings {
  std::optional<std::string> secret;  // twitch.secret: the subscriptions' HMAC secret
  std::int64_t max_message_age_seconds = 600;
  std::string stream_id = "login";  // or "id": which of the broadcaster's names is the stream id
};

void declare_settings(settings::Schema& schema, TwitchSettings& twitch);

}  // namespace sluice::twitch
