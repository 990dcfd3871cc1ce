#include "models/pipeline/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace tessera::models {

namespace {

// Closes the descriptors it holds when it goes out of scope.
struct Fds {
  int fd[4] = {-1, -1, -1, -1};  // out read, out write, err read, err write
  ~Fds() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void close(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

// Reads both pipes until both reach end of file (poll, so that a program
// filling one pipe while the other is drained cannot stall).
Status drain(int outFd, int errFd, std::string* out, std::string* err) {
  struct pollfd fds[2] = {{outFd, POLLIN, 0}, {errFd, POLLIN, 0}};
  std::string* sinks[2] = {out, err};
  int open = 2;
  char buffer[65536];
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return Status(StatusCode::kIoError, std::string("poll failed: ") + std::strerror(errno));
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // end of file (or a broken pipe): poll ignores negative fds
        --open;
      }
    }
  }
  return Status();
}

}  // namespace

std::string ProcessResult::describeExit() const {
  if (signal != 0)
    return "was killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  return "exited with status " + std::to_string(exitCode);
}

Result<ProcessResult> runProcess(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty())
    return Error{StatusCode::kInvalidArgument, "no program to run"};
  const std::string& program = argv[0];
  if (::access(program.c_str(), F_OK) != 0)
    return Error{StatusCode::kNotFound, "the program does not exist", program};

  Fds p;
  if (::pipe2(p.fd, O_CLOEXEC) != 0 || ::pipe2(p.fd + 2, O_CLOEXEC) != 0)
    return Error{StatusCode::kIoError, std::string("cannot create a pipe: ") + std::strerror(errno),
                 program};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, p.fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, p.fd[3], STDERR_FILENO);
  // The child starts with default signal handling, whatever the caller set
  // up for SIGINT (the CLI's interrupt handler) or SIGPIPE.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults, none;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned =
      ::posix_spawn(&pid, program.c_str(), &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0)
    return Error{spawned == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                 std::string("cannot run the program: ") + std::strerror(spawned), program};
  // Only the child writes: without closing our copies the pipes never reach end of file.
  p.close(1);
  p.close(3);

  ProcessResult result;
  const Status drained = drain(p.fd[0], p.fd[2], &result.out, &result.err);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return Error{StatusCode::kIoError,
                   std::string("cannot wait for the program: ") + std::strerror(errno), program};
  if (!drained.ok()) return Error{drained.error().code, drained.error().message, program};
  if (WIFSIGNALED(status)) {
    result.exitCode = -1;
    result.signal = WTERMSIG(status);
  } else {
    result.exitCode = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace tessera::models
