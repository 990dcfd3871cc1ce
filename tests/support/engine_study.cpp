#include "tests/support/engine_study.h"

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
  // Few enough blocks hold body that the sparse engine never falls back to
  // computing a whole slice (above 85 % of its blocks).
  options.occupancy = 0.3;
  auto phantom = imaging::generatePhantom(options);
  EXPECT_TRUE(phantom.ok()) << phantom.error().toString();
  return std::move(phantom).value();
}

namespace {

models::Model smallModel(std::uint64_t seed) {
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
  EXPECT_TRUE(model.ok()) << model.error().toString();
  return std::move(model).value();
}

void write(const models::Model& model, const std::string& path) {
  models::ExportOptions options;
  options.height = options.width = 128;
  options.includeTrainingHeads = true;
  const Status written = models::exportOnnx(model, path, options);
  ASSERT_TRUE(written.ok()) << written.toString();
}

}  // namespace

void writeSmallModel(const std::string& path, std::uint64_t seed) {
  write(smallModel(seed), path);
}

void writeConstantModel(const std::string& path, std::uint8_t label) {
  models::Model model = smallModel(1);
  model.info.name = "constant-test-model";
  for (int level = 0; level < model.info.architecture.levels; ++level) {
    const std::string head = "head" + std::to_string(level);
    models::Parameter* weight = model.net->parameters().find(head + ".weight");
    models::Parameter* bias = model.net->parameters().find(head + ".bias");
    ASSERT_TRUE(weight && bias) << head;
    weight->value.setZero();
    bias->value.setZero();
    ASSERT_GT(bias->value.storageCount(), label);
    bias->value.data()[label] = 10.0f;
  }
  write(model, path);
}

}  // namespace tessera::ui::testing
