// Runs a helper program (the PyTorch peer of `tessera bench`) without a
// shell: the program is started with posix_spawn from an argument vector,
// so arguments reach it verbatim whatever they hold (spaces, quotes, "$(...)",
// ';'). Its standard output and standard error are captured through pipes;
// standard input is /dev/null.
#pragma once

#include <sys/types.h>

#include <cstdint>
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

// A program started with posix_spawn (as runProcess) that keeps running
// while the caller talks to it: its standard input and output are pipes held
// here, its standard error is the caller's. Used by `tessera batch` for its
// worker processes. The destructor kills (SIGKILL) and reaps a child still
// running, so that no worker outlives its supervisor's handle.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Errors as runProcess.
  static Result<ChildProcess> start(const std::vector<std::string>& argv);

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // Writes all of `bytes` to the child's standard input (false when it is closed).
  bool write(const std::string& bytes);
  void closeInput();
  // Waits up to timeoutMs (-1: for ever) for output and appends what came to
  // *out; false at end of file (the child closed its output or died).
  bool read(std::string* out, int timeoutMs);
  void signal(int signal) const;
  // Reaps the child (blocking); running() is false afterwards.
  ProcessResult wait();

 private:
  void release();
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
};

// "SIGSEGV" for SIGSEGV; "signal N" for a number without a name.
std::string signalName(int signal);
// The resident set (VmRSS of /proc/PID/status) of a running process in
// bytes; -1 when it cannot be read (the process is gone).
std::int64_t residentBytes(pid_t pid);
// MemAvailable of /proc/meminfo in bytes; -1 when unknown.
std::int64_t availableMemoryBytes();

}  // namespace tessera::models
