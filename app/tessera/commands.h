// The tessera subcommands. Each is wiring: parse arguments, call the
// modules, print results, map errors to exit codes (docs/CONTRIBUTING.md, "Adding a command").
#pragma once

#include <string>
#include <vector>

#include "app/cli/args.h"
#include "core/status.h"

namespace tessera::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitPartial = 3;  // batch finished, some cases failed

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Args& args);
};

// All commands, in the order `tessera --help` lists them.
const std::vector<Command>& commands();

// Parses; on --help prints usage and returns kExitOk through *exitCode, on a
// usage error prints it and returns kExitUsage. True when the command should run.
bool parseOrExit(ArgParser& parser, const Args& args, int* exitCode);

// Prints "tessera: error: <message>" and returns kExitFailure.
int fail(const Error& error);
int fail(const Status& status);

int runBench(const Args& args);
int runBatch(const Args& args);
int runConvert(const Args& args);
int runEval(const Args& args);
int runInfo(const Args& args);
int runMerge(const Args& args);
int runPhantom(const Args& args);
int runPlugins(const Args& args);
int runImportModel(const Args& args);
int runModel(const Args& args);
int runPacs(const Args& args);
int runSegment(const Args& args);
int runServe(const Args& args);
int runTrain(const Args& args);
int runDistill(const Args& args);

}  // namespace tessera::cli
