// Runs a helper program (the PyTorch peer of `tessera bench`) without a
// shell: the program is started with posix_spawn from an argument vector,
// so arguments reach it verbatim whatever they hold (spaces, quotes, "$(...)",
// ';'). Its standard output and standard error are captured through pipes;
// standard input is /dev/null.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace tessera::models {

struct ProcessResult {
  int exitCode = 0;  // the exit status; -1 when a signal ended it
  int signal = 0;    // the signal that ended it, 0 when it exited
  std::string out;   // everything written to standard output
  std::string err;   // everything written to standard error
  bool succeeded() const { return signal == 0 && exitCode == 0; }
  // "exited with status 3", "was killed by signal 9 (Killed)".
  std::string describeExit() const;
};

// argv[0] is the program's path (no PATH search); argv[1..] its arguments.
// Errors only when it cannot be started: kNotFound when argv[0] does not
// exist, kIoError when it cannot be executed or the pipes fail,
// kInvalidArgument for an empty argv. A program that runs and fails is a
// result (see succeeded()), not an error.
Result<ProcessResult> runProcess(const std::vector<std::string>& argv);

}  // namespace tessera::models
