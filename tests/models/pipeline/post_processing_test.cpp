// The model's post-processing rules: recorded in its metadata, checked
// against its labels, and applied by the pipeline after the network, dense
// and sparse alike, with what they changed reported.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "imaging/labels/label_rules.h"
#include "models/infer/segmenter.h"
#include "models/io/onnx_metadata.h"
#include "models/pipeline/segment_study.h"
#include "tests/support/small_model.h"

namespace tessera::models {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

ModelInfo infoWithRules(std::vector<PostProcessingRule> rules) {
  ModelInfo info = testing::smallEngineModel()->info;
  info.postProcessing = std::move(rules);
  return info;
}

TEST(PostProcessing, TheModelFileRecordsItsRules) {
  const ModelInfo info =
      infoWithRules({{"c1", {}, 1, true}, {"c2", {"c1"}, 0, false}, {"c1", {}, 2, false, 0.25}});
  auto read = infoFromMetadata(metadataFromInfo(info));
  ASSERT_TRUE(read.ok()) << read.status().toString();
  ASSERT_EQ(read->postProcessing.size(), 3u);
  EXPECT_EQ(read->postProcessing[0].label, "c1");
  EXPECT_EQ(read->postProcessing[0].keepLargest, 1);
  EXPECT_TRUE(read->postProcessing[0].fillHoles);
  EXPECT_EQ(read->postProcessing[1].notOnSlicesWith, std::vector<std::string>{"c1"});
  EXPECT_FALSE(read->postProcessing[1].fillHoles);
  EXPECT_EQ(read->postProcessing[2].keepLargest, 2);
  EXPECT_EQ(read->postProcessing[2].minComponentMl, 0.25);
  EXPECT_EQ(read->postProcessing[0].minComponentMl, 0.0);
  // A model without rules writes no key, as files did before rules existed.
  for (const auto& [key, value] : metadataFromInfo(infoWithRules({})))
    EXPECT_NE(key, metadata_keys::kPostProcessing);
}

TEST(PostProcessing, MalformedOrInconsistentRulesAreRefusedNamingTheProblem) {
  struct Case {
    const char* json;
    const char* expected;
  };
  const Case cases[] = {
      {"{\"label\":\"c1\"}", "expected a JSON array"},
      {"[{\"keep_largest\":1}]", "needs a \"label\""},
      {"[{\"label\":\"c1\",\"keep_largest\":-1}]", "keep_largest"},
      {"[{\"label\":\"c1\",\"keep_largest\":1.5}]", "keep_largest"},
      {"[{\"label\":\"c1\",\"fill_holes\":\"yes\"}]", "fill_holes"},
      {"[{\"label\":\"c1\",\"not_on_slices_with\":\"c2\"}]", "not_on_slices_with"},
      {"[{\"label\":\"c1\",\"keep_largets\":1}]", "unknown field \"keep_largets\""},
      {"[{\"label\":\"liver\",\"keep_largest\":1}]", "\"liver\", which is not one of"},
      {"[{\"label\":\"c0\",\"keep_largest\":1}]", "names the background"},
      {"[{\"label\":\"c1\",\"not_on_slices_with\":[\"c1\"]}]", "excludes its own label"},
      {"[{\"label\":\"c1\",\"not_on_slices_with\":[\"c7\"]}]", "\"c7\""},
      {"[{\"label\":\"c1\"}]", "does nothing"},
      {"[{\"label\":\"c1\",\"min_component_ml\":-0.5}]", "min_component_ml"},
  };
  MetadataProps base = metadataFromInfo(infoWithRules({}));
  for (const Case& c : cases) {
    MetadataProps props = base;
    props.emplace_back(metadata_keys::kPostProcessing, c.json);
    auto read = infoFromMetadata(props);
    ASSERT_FALSE(read.ok()) << c.json;
    EXPECT_TRUE(contains(read.error().message, c.expected))
        << c.json << ": " << read.error().message;
  }
}

// A CT of boxes at several densities: fresh weights label it in fragments.
std::vector<std::int16_t> boxesCt(const Geometry& g) {
  std::vector<std::int16_t> ct(static_cast<std::size_t>(g.voxelCount()));
  for (std::int64_t k = 0; k < g.size[2]; ++k)
    for (std::int64_t j = 0; j < g.size[1]; ++j)
      for (std::int64_t i = 0; i < g.size[0]; ++i)
        ct[static_cast<std::size_t>(i + g.size[0] * (j + g.size[1] * k))] =
            static_cast<std::int16_t>(((i / 7 + j / 5 + k) % 4) * 300 - 400 +
                                      static_cast<int>(50 * std::sin(0.3 * i * j)));
  return ct;
}

TEST(PostProcessing, ThePipelineAppliesTheModelsRulesDenseAndSparse) {
  const std::shared_ptr<const Model> plainModel = testing::smallEngineModel();
  ModelInfo info = infoWithRules({{"c1", {}, 1, true}});
  auto ruled = std::make_shared<Model>(std::move(*makeModel(info, 3)));  // same weights (seed 3)
  Geometry g;
  g.size = {64, 64, 4};
  const std::vector<std::int16_t> ct = boxesCt(g);
  for (const SegmentMode mode : {SegmentMode::kDense, SegmentMode::kSparse}) {
    SCOPED_TRACE(mode == SegmentMode::kDense ? "dense" : "sparse");
    SegmentOptions options;
    options.mode = mode;
    Segmenter plainSegmenter(plainModel), ruledSegmenter(ruled);
    auto plain = segmentStudy(plainSegmenter, VolumeView(ct.data(), g), options);
    auto processed = segmentStudy(ruledSegmenter, VolumeView(ct.data(), g), options);
    ASSERT_TRUE(plain.ok() && processed.ok()) << processed.status().toString();
    EXPECT_TRUE(plain->postProcessing.empty());

    // What the rule does to the plain labels, computed on its own.
    Image<std::uint8_t> expected = plain->labels.labels;
    auto outcome = imaging::applyLabelRules(expected, {{1, {}, 1, true}});
    ASSERT_TRUE(outcome.ok());
    ASSERT_GT((*outcome)[0].componentsRemoved, 0) << "the test needs a fragmented label";
    EXPECT_EQ(processed->labels.labels.buffer(), expected.buffer());
    ASSERT_EQ(processed->postProcessing.size(), 1u);
    EXPECT_EQ(processed->postProcessing[0].label, "c1");
    EXPECT_EQ(processed->postProcessing[0].voxels.componentsRemoved,
              (*outcome)[0].componentsRemoved);
    EXPECT_EQ(processed->postProcessing[0].voxels.removedComponentVoxels,
              (*outcome)[0].removedComponentVoxels);
    EXPECT_EQ(processed->postProcessing[0].voxels.filledVoxels, (*outcome)[0].filledVoxels);
    // The statistics describe the processed labels.
    std::int64_t c1 = 0;
    for (const auto& s : processed->statistics)
      if (s.value == 1) c1 = s.voxelCount;
    EXPECT_EQ(c1, std::count(expected.data(), expected.data() + expected.voxelCount(), 1));
  }
}

}  // namespace
}  // namespace tessera::models
