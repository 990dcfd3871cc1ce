// The smallest model the inference engine runs (base width 16, two
// poolings, attention), with fresh weights: for tests of the segmenter and
// the pipeline that need a network but not a trained one.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "models/net/model.h"

namespace tessera::models::testing {

inline std::shared_ptr<const Model> smallEngineModel(std::uint64_t seed = 3) {
  ModelInfo info;
  info.architecture.inputChannels = 3;
  info.architecture.classes = 3;
  info.architecture.baseWidth = 16;
  info.architecture.levels = 2;
  info.architecture.attentionHeads = 2;
  for (int c = 0; c < 3; ++c)
    info.labels.labels.push_back({std::uint8_t(c), "c" + std::to_string(c), {}});
  return std::make_shared<Model>(std::move(*makeModel(info, seed)));
}

}  // namespace tessera::models::testing
