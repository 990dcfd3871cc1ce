#include "engine_study.h"

#include <gtest/gtest.h>

#include "models/io/onnx_model.h"
#include "models/net/model.h"

namespace tessera::ui::testing {

imaging::Phantom makeSmallPhantom(int slices, std::uint64_t seed) {
  imaging::PhantomOptions options;
  options.seed = seed;
  options.matrix = 128;
  options.slices = slices;
  options.sliceSpacingMm = 2.5;
  options.zCenter = 0.6;
  options.occupancy = 0.5;
  auto phantom = imaging::generatePhantom(options);
  EXPECT_TRUE(phantom.ok()) << phantom.error().toString();
  return std::move(phantom).value();
}

void writeSmallModel(const std::string& path, std::uint64_t seed) {
  models::ModelInfo info;
  info.name = "small-test-model";
  info.version = "0.1";
  info.architecture.inputChannels = 3;
  info.architecture.classes = 10;
  info.architecture.baseWidth = 16;
  info.architecture.levels = 2;
  info.architecture.attentionHeads = 2;
  info.labels = defaultLabelTable();
  auto model = models::makeModel(info, seed);
  ASSERT_TRUE(model.ok()) << model.error().toString();
  models::ExportOptions options;
  options.height = options.width = 128;
  options.includeTrainingHeads = true;
  const Status written = models::exportOnnx(*model, path, options);
  ASSERT_TRUE(written.ok()) << written.toString();
}

}  // namespace tessera::ui::testing
