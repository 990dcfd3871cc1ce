#include "models/pipeline/benchmark.h"

#include <gtest/gtest.h>

namespace tessera::models {
namespace {

std::shared_ptr<const Model> smallModel() {
  ModelInfo info;
  info.architecture.inputChannels = 3;
  info.architecture.classes = 3;
  info.architecture.baseWidth = 16;
  info.architecture.levels = 2;
  info.architecture.attentionHeads = 2;
  for (int c = 0; c < 3; ++c) info.labels.labels.push_back({std::uint8_t(c), "c" + std::to_string(c), {}});
  return std::make_shared<Model>(std::move(*makeModel(info, 3)));
}

// `tessera bench`'s sparse settings reach the segmenter: a wider detector
// ring computes more blocks and more FLOPs on the same phantom.
TEST(Benchmark, DetectorDilationReachesTheSparseRun) {
  Segmenter segmenter(smallModel());
  PhantomBenchOptions o;
  o.slices = 2;
  o.repeats = 1;
  o.occupancy = 0.4;
  o.sparse.refinement = Refinement::kOff;
  o.sparse.detector.dilation = 0;
  auto tight = benchmarkPhantom(segmenter, o);
  o.sparse.detector.dilation = 2;
  auto wide = benchmarkPhantom(segmenter, o);
  ASSERT_TRUE(tight.ok()) << tight.error().toString();
  ASSERT_TRUE(wide.ok()) << wide.error().toString();
  EXPECT_NEAR(tight->bodyOccupancy, 0.4, 0.1);
  EXPECT_GT(tight->activeFraction, 0.0);
  EXPECT_LT(tight->activeFraction, wide->activeFraction);
  EXPECT_LT(tight->flopFraction, wide->flopFraction);
  EXPECT_GT(tight->denseMsPerSlice, 0.0);
  EXPECT_GT(tight->sparseMsPerSlice, 0.0);
}

}  // namespace
}  // namespace tessera::models
