// Progress on stderr: a redrawn bar with ETA on a terminal, plain lines
// (at most one per `plainIntervalSeconds`, and at the end) otherwise, so
// logs of batch jobs stay readable. Elapsed time and ETA are those of the
// whole command, measured from construction (TaskClock), whichever tracker
// sent the update; the last line says how long the command took.
#pragma once

#include <string>

#include "core/progress.h"

namespace tessera::cli {

class ConsoleProgress : public ProgressSink {
 public:
  explicit ConsoleProgress(std::string label, double plainIntervalSeconds = 5.0);
  ~ConsoleProgress() override;
  void update(const ProgressUpdate& update) override;
  // Ends the bar's line so that following output starts on a new line.
  void finish();

 private:
  std::string label_;
  bool terminal_;
  double plainInterval_;
  TaskClock clock_;
  double lastPlain_ = -1e9;
  bool open_ = false;
};

}  // namespace tessera::cli
