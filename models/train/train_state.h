// Everything a resumed run needs beyond the checkpoint's ONNX file: the
// exact parameter values (the ONNX export folds the attention scale into
// att.q, which does not round-trip to the last bit), optimiser moments, the
// step and the logs so far. Binary file: "TESSTATE", format version (u32),
// JSON header length (u64), JSON header, then float32 data: every parameter
// in ParameterSet order, then per trainable parameter the first and second
// moments.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/backend/tensor.h"
#include "models/net/parameters.h"
#include "models/train/adamw.h"

namespace tessera::models {

struct TrainState {
  std::int64_t step = 0;
  std::int64_t optimizerSteps = 0;
  std::vector<std::string> parameterNames;
  std::vector<Tensor> parameters;
  std::vector<Tensor> firstMoments, secondMoments;
  std::string trainLog, validationLog;
  std::vector<double> plotSteps, plotLosses, plotValSteps, plotValDice;
};

TrainState captureTrainState(const ParameterSet& params, AdamW& optimizer, std::int64_t step);
// Copies parameters and moments back; refuses when names or shapes differ
// (a checkpoint of another architecture).
Status applyTrainState(const TrainState& state, ParameterSet& params, AdamW& optimizer);

Status writeTrainState(const TrainState& state, const std::string& path);
Result<TrainState> readTrainState(const std::string& path);

}  // namespace tessera::models
