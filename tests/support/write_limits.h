// Runs a piece of a test in a forked child whose writes fail the way they do
// on a full disk: either the process's file size limit (RLIMIT_FSIZE, with
// SIGXFSZ ignored so that write(2) fails with EFBIG instead of killing the
// process) or a small tmpfs mounted in a private mount namespace (ENOSPC).
// The child sends back the text `body` returns; the parent asserts on it.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <optional>
#include <string>

namespace tessera::testing {

struct ChildOutcome {
  bool exited = false;  // false: the child crashed or was killed
  std::string text;     // what `body` returned
};

namespace detail {
inline ChildOutcome runInChild(const std::function<bool()>& setup,
                               const std::function<std::string()>& body) {
  int channel[2];
  if (::pipe(channel) != 0) return {};
  const pid_t pid = ::fork();
  if (pid < 0) return {};
  if (pid == 0) {
    ::close(channel[0]);
    std::string text = setup() ? body() : std::string("setup-failed");
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
      const ssize_t n = ::write(channel[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(channel[1]);
  ChildOutcome outcome;
  char buffer[4096];
  for (ssize_t n; (n = ::read(channel[0], buffer, sizeof buffer)) > 0;)
    outcome.text.append(buffer, n);
  ::close(channel[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  outcome.exited = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return outcome;
}
}  // namespace detail

// `body` runs with files limited to `limitBytes`.
inline ChildOutcome withFileSizeLimit(std::uint64_t limitBytes,
                                      const std::function<std::string()>& body) {
  return detail::runInChild(
      [limitBytes] {
        ::signal(SIGXFSZ, SIG_IGN);
        const struct rlimit limit = {limitBytes, limitBytes};
        return ::setrlimit(RLIMIT_FSIZE, &limit) == 0;
      },
      body);
}

// `body` runs with a tmpfs of `sizeBytes` mounted on `directory` (which must
// exist), visible to the child only. Returns nullopt when mounting is not
// permitted here (the caller skips the test).
inline std::optional<ChildOutcome> withSmallTmpfs(const std::string& directory,
                                                  std::uint64_t sizeBytes,
                                                  const std::function<std::string()>& body) {
  auto mountTmpfs = [&] {
    if (::unshare(CLONE_NEWNS) != 0) return false;
    // Keep the mount out of the parent's namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    const std::string options = "size=" + std::to_string(sizeBytes);
    return ::mount("tmpfs", directory.c_str(), "tmpfs", 0, options.c_str()) == 0;
  };
  ChildOutcome outcome = detail::runInChild(mountTmpfs, body);
  if (outcome.text == "setup-failed") return std::nullopt;
  return outcome;
}

}  // namespace tessera::testing
