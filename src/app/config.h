#pragma once

// Config: every module's settings, loaded from the sources in core/settings.h. The modules own
// their keys, bounds and checks; this file only gathers them, in the order the README's table
// and `sluice serve --help-settings` show them.

#include <string>
#include <vector>

#include "connectors/azure/azure_settings.h"
#include "connectors/twitch/twitch_settings.h"
#include "core/logging.h"
#include "core/settings.h"
#include "engine/engine_settings.h"
#include "http/http_settings.h"
#include "pipeline/pipeline_settings.h"
#include "queue/queue_settings.h"
#include "storage/storage_settings.h"

namespace sluice::app {

struct Config {
  http::HttpSettings http;
  storage::StorageSettings storage;
  queue::QueueSettings queue;
  engine::EngineSettings engine;
  pipeline::PipelineSettings pipeline;
  azure::AzureSettings azure;
  twitch::TwitchSettings twitch;
  LogSettings log;
};

// The defaults, overridden by `sources`; checked, with errors that name the key.
Result<Config> load_config(const settings::Sources& sources);

// Every setting: key, default, help.
std::vector<settings::Description> describe_settings();

}  // namespace sluice::app
