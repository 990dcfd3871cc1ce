#include "models/pipeline/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

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

// The signal set every child starts with: default handling of SIGINT,
// SIGTERM and SIGPIPE whatever the caller set up (the CLI's interrupt
// handler), nothing blocked.
struct SpawnAttributes {
  posix_spawnattr_t attributes;
  SpawnAttributes() {
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
  }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attributes); }
};

// argv[0] must name an existing program.
Status checkProgram(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty())
    return Status(StatusCode::kInvalidArgument, "no program to run");
  if (::access(argv[0].c_str(), F_OK) != 0)
    return Status(StatusCode::kNotFound, "the program does not exist", argv[0]);
  return Status();
}

// Starts argv[0] with `actions` (which it destroys) and SpawnAttributes.
Result<pid_t> spawn(const std::vector<std::string>& argv, posix_spawn_file_actions_t* actions) {
  SpawnAttributes attributes;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned =
      ::posix_spawn(&pid, argv[0].c_str(), actions, &attributes.attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(actions);
  if (spawned != 0)
    return Error{spawned == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                 std::string("cannot run the program: ") + std::strerror(spawned), argv[0]};
  return pid;
}

ProcessResult decodeStatus(int status) {
  ProcessResult result;
  if (WIFSIGNALED(status)) {
    result.exitCode = -1;
    result.signal = WTERMSIG(status);
  } else {
    result.exitCode = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace

ChildProcess::~ChildProcess() {
  release();
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      in_(std::exchange(other.in_, -1)),
      out_(std::exchange(other.out_, -1)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    in_ = std::exchange(other.in_, -1);
    out_ = std::exchange(other.out_, -1);
  }
  return *this;
}

void ChildProcess::release() {
  closeInput();
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  if (out_ >= 0) ::close(out_);
  out_ = -1;
}

Result<ChildProcess> ChildProcess::start(const std::vector<std::string>& argv) {
  TESSERA_RETURN_IF_ERROR(checkProgram(argv));
  Fds p;  // here: in read, in write, out read, out write
  if (::pipe2(p.fd, O_CLOEXEC) != 0 || ::pipe2(p.fd + 2, O_CLOEXEC) != 0)
    return Error{StatusCode::kIoError, std::string("cannot create a pipe: ") + std::strerror(errno),
                 argv[0]};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, p.fd[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, p.fd[3], STDOUT_FILENO);
  TESSERA_ASSIGN_OR_RETURN(const pid_t pid, spawn(argv, &actions));
  ChildProcess child;
  child.pid_ = pid;
  child.in_ = std::exchange(p.fd[1], -1);
  child.out_ = std::exchange(p.fd[2], -1);
  return child;
}

bool ChildProcess::write(const std::string& bytes) {
  // A child that died makes the write fail with EPIPE and raise SIGPIPE,
  // which would end the caller: block it on this thread and take back the
  // pending signal.
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  bool ok = in_ >= 0;
  for (std::size_t done = 0; ok && done < bytes.size();) {
    const ssize_t n = ::write(in_, bytes.data() + done, bytes.size() - done);
    if (n > 0)
      done += static_cast<std::size_t>(n);
    else if (n < 0 && errno != EINTR)
      ok = false;
  }
  if (!ok) {
    const struct timespec zero = {0, 0};
    while (::sigtimedwait(&pipe, nullptr, &zero) > 0) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

void ChildProcess::closeInput() {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
}

bool ChildProcess::read(std::string* out, int timeoutMs) {
  if (out_ < 0) return false;
  struct pollfd fd = {out_, POLLIN, 0};
  const int ready = ::poll(&fd, 1, timeoutMs);
  if (ready <= 0) return true;  // a timeout, or EINTR: nothing yet
  char buffer[65536];
  const ssize_t n = ::read(out_, buffer, sizeof buffer);
  if (n > 0) {
    out->append(buffer, static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && errno == EINTR) return true;
  ::close(out_);
  out_ = -1;
  return false;
}

void ChildProcess::signal(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
}

ProcessResult ChildProcess::wait() {
  int status = 0;
  ProcessResult result;
  if (pid_ <= 0) return result;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      pid_ = -1;
      return result;
    }
  }
  pid_ = -1;
  return decodeStatus(status);
}

std::string signalName(int signal) {
  if (const char* name = ::sigabbrev_np(signal)) return std::string("SIG") + name;
  return "signal " + std::to_string(signal);
}

namespace {
// The value of a "Name:   N kB" line of a /proc file, in bytes; -1 when absent.
std::int64_t procKilobytes(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0) return std::stoll(line.substr(name.size() + 1)) * 1024;
  return -1;
}
}  // namespace

std::int64_t residentBytes(pid_t pid) {
  return procKilobytes("/proc/" + std::to_string(pid) + "/status", "VmRSS");
}

std::int64_t availableMemoryBytes() {
  return procKilobytes("/proc/meminfo", "MemAvailable");
}

std::string ProcessResult::describeExit() const {
  if (signal != 0)
    return "was killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  return "exited with status " + std::to_string(exitCode);
}

Result<ProcessResult> runProcess(const std::vector<std::string>& argv) {
  TESSERA_RETURN_IF_ERROR(checkProgram(argv));
  const std::string& program = argv[0];
  Fds p;
  if (::pipe2(p.fd, O_CLOEXEC) != 0 || ::pipe2(p.fd + 2, O_CLOEXEC) != 0)
    return Error{StatusCode::kIoError, std::string("cannot create a pipe: ") + std::strerror(errno),
                 program};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, p.fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, p.fd[3], STDERR_FILENO);
  TESSERA_ASSIGN_OR_RETURN(const pid_t pid, spawn(argv, &actions));
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
  const ProcessResult exit = decodeStatus(status);
  result.exitCode = exit.exitCode;
  result.signal = exit.signal;
  return result;
}

}  // namespace tessera::models
