// The options of a training run as a user states them, by name: one table
// that `tessera train` turns into its command-line options and that the SDK
// (tessera_train_set in C, keyword arguments in Python) accepts by the same
// names, with the same defaults, ranges and messages, so that the front
// ends cannot drift apart.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/train/trainer.h"

namespace tessera::models {

struct TrainSetting {
  std::string name;       // "steps", "lr", "half-checkpoints" (the CLI's --name)
  std::string valueName;  // "N", "LR"; empty for a flag
  std::string help;
  std::string defaultValue;  // empty: none (flags: off)
  bool flag() const { return valueName.empty(); }
};

// Every setting, in the order `tessera train --help` lists them.
const std::vector<TrainSetting>& trainSettings();

class TrainSettings {
 public:
  // kInvalidArgument for an unknown name (listing the known ones); values
  // are checked by toTrainerOptions. A flag takes "true"/"false" ("1"/"0").
  Status set(const std::string& name, const std::string& value);
  // The value given or the default ("" when neither).
  std::string get(const std::string& name) const;
  // Parses and range-checks every value and builds the trainer's options:
  // the default label set, a fresh model's name and description, and the
  // training summary recorded in the model file.
  Result<TrainerOptions> toTrainerOptions() const;

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace tessera::models
