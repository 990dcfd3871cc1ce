// The part of a training checkpoint that is not the model: optimiser
// moments, the step, and the logs so far. Binary file: "TESSTATE", format
// version (u32), JSON header length (u64), JSON header, then per trainable
// parameter the float32 first and second moments.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/engine/tensor.h"
#include "models/train/adamw.h"

namespace tessera::models {

struct TrainState {
  std::int64_t step = 0;
  std::int64_t optimizerSteps = 0;
  std::vector<Tensor> firstMoments, secondMoments;
  std::string trainLog, validationLog;
  std::vector<double> plotSteps, plotLosses, plotValSteps, plotValDice;
};

TrainState captureTrainState(AdamW& optimizer, std::int64_t step);
// Copies moments into the optimiser; refuses when shapes differ (a checkpoint
// of another architecture).
Status applyTrainState(const TrainState& state, AdamW& optimizer);

Status writeTrainState(const TrainState& state, const std::string& path);
Result<TrainState> readTrainState(const std::string& path);

}  // namespace tessera::models
