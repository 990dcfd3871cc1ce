// The segmentation options of every command that segments (segment, batch,
// bench): declared once, read once, so that a new option reaches them all.
#pragma once

#include <string>

#include "app/cli/args.h"
#include "models/infer/segmenter.h"
#include "models/pipeline/plugins.h"

namespace tessera::cli {

struct SegmentCommandOptions {
  std::string modelPath;  // empty: the bundled default model
  models::SegmentOptions segment;
  // --memory-limit: the job's memory budget in MiB (0: the default, a
  // fraction of the available memory); readSegmentOptions applies it.
  long long memoryLimitMiB = 0;
  // --plugins and --stages: the plugins loaded (kept for the stages' sake)
  // and the stages to run, in order.
  std::shared_ptr<const models::PluginRegistry> plugins;
  std::vector<models::StageCall> stages;
};

// Adds --model, --mode, --settle, --dilation, --threads, --memory-limit and
// (withStages) --plugins and --stages; `threadsHelp` says what the thread
// count means for the command. `withMode` false: the command runs both modes
// itself (bench), which also runs no plugin stages.
void addSegmentOptions(ArgParser& parser,
                       const std::string& threadsHelp = "CPU threads (0: all cores)",
                       const std::string& defaultThreads = "0", bool withMode = true);

// Reads them after parse(), loading the plugins when stages are asked for or
// plugin folders named (--plugins, $TESSERA_PLUGIN_PATH: their layers);
// on a malformed value, a plugin that cannot be loaded or an unknown stage
// returns false with a message for the user (the command then exits with
// kExitUsage).
bool readSegmentOptions(ArgParser& parser, SegmentCommandOptions* options, std::string* error);

}  // namespace tessera::cli
