// Running the real `tessera` executable from a test: its exit code and what
// it printed, captured in a directory of the test's own.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace tessera::testing {

inline const std::string kTessera = std::string(TESSERA_BINARY_DIR) + "/bin/tessera";

struct CommandRun {
  int code = -1;
  std::string out, err;
};

// Single-quoted for sh.
inline std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Runs `command` (a sh command line) with stdout and stderr captured in
// `capture`, so that the working directories the tests inspect hold only
// what the command wrote.
inline CommandRun runCommand(const TempDir& capture, std::string command) {
  command += " >" + quote(capture / "out") + " 2>" + quote(capture / "err") + " </dev/null";
  const int status = std::system(command.c_str());
  CommandRun run;
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = slurp(capture / "out");
  run.err = slurp(capture / "err");
  return run;
}

// Runs tessera with `args`; `prefix` goes before the program, e.g.
// "env LC_ALL=C".
inline CommandRun runTessera(const TempDir& capture, const std::vector<std::string>& args,
                             const std::string& prefix = "") {
  std::string command = (prefix.empty() ? "" : prefix + " ") + quote(kTessera);
  for (const std::string& a : args) command += " " + quote(a);
  return runCommand(capture, command);
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Exit code 1, "tessera: error: ..." naming the reason, nothing crashed.
inline void expectFailure(const CommandRun& run, const std::string& reason) {
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_TRUE(contains(run.err, "tessera: error: ")) << run.err;
  EXPECT_TRUE(contains(run.err, reason)) << run.err;
}

}  // namespace tessera::testing
