#include "app/cli/console_progress.h"

#include <unistd.h>

#include <cstdio>

namespace tessera::cli {

ConsoleProgress::ConsoleProgress(std::string label, double plainIntervalSeconds)
    : label_(std::move(label)),
      terminal_(::isatty(STDERR_FILENO) == 1),
      plainInterval_(plainIntervalSeconds) {}

ConsoleProgress::~ConsoleProgress() {
  finish();
}

void ConsoleProgress::finish() {
  if (open_) std::fputc('\n', stderr);
  open_ = false;
}

void ConsoleProgress::update(const ProgressUpdate& reported) {
  const ProgressUpdate u = clock_.retime(reported);
  const std::string status = formatProgressStatus(u);
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(u.fraction * kWidth);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %s\033[K", label_.c_str(), bar.c_str(), status.c_str());
    std::fflush(stderr);
    open_ = true;
    if (u.fraction >= 1.0) finish();
    return;
  }
  if (u.fraction < 1.0 && u.elapsedSeconds - lastPlain_ < plainInterval_) return;
  lastPlain_ = u.elapsedSeconds;
  std::fprintf(stderr, "%s: %s\n", label_.c_str(), status.c_str());
}

}  // namespace tessera::cli
