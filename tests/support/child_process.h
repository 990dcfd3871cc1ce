// A program a test starts (a server, or tessera itself) with its stdout and
// stderr appended to a log file; stopped with SIGKILL, at the latest, when
// destroyed.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace tessera::testing {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess() {
    if (running()) stop(SIGKILL, 10);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (a path) with the arguments that follow.
  void start(const std::vector<std::string>& argv, const std::string& log) {
    pid_ = ::fork();
    if (pid_ != 0) return;
    std::freopen(log.c_str(), "a", stdout);
    std::freopen(log.c_str(), "a", stderr);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  bool running() const { return pid_ > 0; }

  // Waits at most `seconds` for the exit: its code, or 128 + the signal that
  // ended it; past that, kills it and returns -1.
  int wait(double seconds) {
    int status = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  // Sends `signal`, then wait(seconds).
  int stop(int signal, double seconds) {
    ::kill(pid_, signal);
    return wait(seconds);
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace tessera::testing
