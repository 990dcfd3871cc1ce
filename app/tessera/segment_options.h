// The segmentation options of every command that segments (segment, batch,
// bench): declared once, read once, so that a new option reaches them all.
#pragma once

#include <string>

#include "app/cli/args.h"
#include "models/infer/segmenter.h"

namespace tessera::cli {

struct SegmentCommandOptions {
  std::string modelPath;  // empty: the bundled default model
  models::SegmentOptions segment;
  // --memory-limit: the job's memory budget in MiB (0: the default, a
  // fraction of the available memory); readSegmentOptions applies it.
  long long memoryLimitMiB = 0;
};

// Adds --model, --mode, --settle, --dilation, --threads and --memory-limit; `threadsHelp`
// says what the thread count means for the command. `withMode` false: the
// command runs both modes itself (bench).
void addSegmentOptions(ArgParser& parser,
                       const std::string& threadsHelp = "CPU threads (0: all cores)",
                       const std::string& defaultThreads = "0", bool withMode = true);

// Reads them after parse(); on a malformed value returns false with a
// message for the user (the command then exits with kExitUsage).
bool readSegmentOptions(ArgParser& parser, SegmentCommandOptions* options, std::string* error);

}  // namespace tessera::cli
