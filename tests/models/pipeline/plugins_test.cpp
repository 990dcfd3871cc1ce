#include "models/pipeline/plugins.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "models/pipeline/segment_study.h"
#include "tests/support/small_model.h"

namespace tessera::models {
namespace {

const std::string kExampleDir = TESSERA_EXAMPLE_PLUGIN_DIR;
std::string testDir(const std::string& name) {
  return std::string(TESSERA_TEST_PLUGIN_DIR) + "/" + name;
}

std::shared_ptr<const PluginRegistry> loadOrFail(const std::vector<std::string>& folders) {
  auto registry = PluginRegistry::load(folders);
  EXPECT_TRUE(registry.ok()) << registry.error().toString();
  return registry.ok() ? *registry : std::make_shared<PluginRegistry>();
}

LabelMap labelMap(std::array<std::int64_t, 3> size) {
  Geometry g;
  g.size = size;
  return LabelMap{std::move(*Image<std::uint8_t>::create(g)), defaultLabelTable()};
}

TEST(Plugins, TheExamplePluginLoadsWithItsStage) {
  const auto registry = loadOrFail({kExampleDir});
  ASSERT_EQ(registry->plugins().size(), 1u);
  EXPECT_EQ(registry->plugins()[0].name, "largest-component");
  const tessera_stage* stage = registry->find("largest_component");
  ASSERT_NE(stage, nullptr);
  EXPECT_EQ(stage->when, TESSERA_STAGE_AFTER_NETWORK);
  EXPECT_EQ(registry->find("no_such_stage"), nullptr);
}

TEST(Plugins, LargestComponentKeepsTheBiggestPieceOfEachChosenLabel) {
  const auto registry = loadOrFail({kExampleDir});
  LabelMap map = labelMap({12, 10, 4});
  Image<std::uint8_t>& l = map.labels;
  const std::uint8_t liver = 5, spleen = 6;
  for (int k = 0; k < 2; ++k)  // liver: 3x3x2 = 18 voxels
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 3; ++i) l.at(i, j, k) = liver;
  l.at(6, 6, 3) = liver;  // a 2-voxel liver piece
  l.at(7, 6, 3) = liver;
  l.at(3, 3, 2) = liver;    // touches the big piece only at a corner: separate
  l.at(10, 0, 0) = spleen;  // two single-voxel spleen pieces, not chosen
  l.at(10, 9, 3) = spleen;
  auto calls = resolveStages(*registry, "largest_component=liver");
  ASSERT_TRUE(calls.ok()) << calls.error().toString();
  StageReport report;
  std::vector<std::int16_t> ct(static_cast<std::size_t>(l.voxelCount()), 0);
  ASSERT_TRUE(runStages(*calls, TESSERA_STAGE_AFTER_NETWORK, ct.data(), l.data(), l.geometry(),
                        map.table, &report)
                  .ok());
  EXPECT_EQ(l.at(0, 0, 0), liver);
  EXPECT_EQ(l.at(2, 2, 1), liver);
  EXPECT_EQ(l.at(6, 6, 3), 0);
  EXPECT_EQ(l.at(7, 6, 3), 0);
  EXPECT_EQ(l.at(3, 3, 2), 0);
  EXPECT_EQ(l.at(10, 0, 0), spleen);
  EXPECT_EQ(l.at(10, 9, 3), spleen);
  ASSERT_EQ(report.size(), 2u);
  EXPECT_EQ(report[0], (std::pair<std::string, double>{"largest_component.removed_voxels", 3}));
  EXPECT_EQ(report[1], (std::pair<std::string, double>{"largest_component.removed_components", 2}));

  // Without arguments every label is cleaned: one spleen piece goes too.
  calls = resolveStages(*registry, "largest_component");
  ASSERT_TRUE(calls.ok());
  ASSERT_TRUE(runStages(*calls, TESSERA_STAGE_AFTER_NETWORK, ct.data(), l.data(), l.geometry(),
                        map.table, nullptr)
                  .ok());
  EXPECT_EQ((l.at(10, 0, 0) == spleen) + (l.at(10, 9, 3) == spleen), 1);

  calls = resolveStages(*registry, "largest_component=liver,pancreas");
  ASSERT_TRUE(calls.ok());
  const Status unknown = runStages(*calls, TESSERA_STAGE_AFTER_NETWORK, ct.data(), l.data(),
                                   l.geometry(), map.table, nullptr);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown label 'pancreas'"), std::string::npos)
      << unknown.toString();
}

TEST(Plugins, StagesAreResolvedInOrderWithTheirArguments) {
  const auto registry = loadOrFail({kExampleDir});
  auto calls = resolveStages(*registry, "largest_component=liver,spleen;;largest_component");
  ASSERT_TRUE(calls.ok());
  ASSERT_EQ(calls->size(), 2u);
  EXPECT_EQ((*calls)[0].arguments, "liver,spleen");
  EXPECT_EQ((*calls)[1].arguments, "");
  // The manifest records the calls in this canonical form.
  EXPECT_EQ(stageSpec(*calls), "largest_component=liver,spleen;largest_component");
  auto unknown = resolveStages(*registry, "largest_component;crop_body");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.error().message.find("'crop_body' (loaded: largest_component)"),
            std::string::npos)
      << unknown.error().message;
}

// Its entry point aborts the process if called: the test would die.
TEST(Plugins, AnotherAbiIsRefusedBeforeAnyOfItsCodeRuns) {
  auto registry = PluginRegistry::load({testDir("wrong_abi")});
  ASSERT_FALSE(registry.ok());
  EXPECT_NE(registry.error().message.find("plugin ABI 99"), std::string::npos);
  EXPECT_NE(registry.error().message.find("loads plugin ABI 2"), std::string::npos);
  EXPECT_NE(registry.error().context.find("wrong_abi.so"), std::string::npos);
}

TEST(Plugins, ALibraryWithoutTheSymbolsIsNotAPlugin) {
  auto registry = PluginRegistry::load({testDir("no_symbols")});
  ASSERT_FALSE(registry.ok());
  EXPECT_NE(registry.error().message.find("not a Tessera plugin"), std::string::npos);
}

TEST(Plugins, FoldersMustBeAbsoluteAndExist) {
  auto relative = PluginRegistry::load({"plugins"});
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.error().message.find("absolute"), std::string::npos);
  auto missing = PluginRegistry::load({testDir("does_not_exist")});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, StatusCode::kNotFound);
}

TEST(Plugins, NothingIsLoadedFromTheWorkingDirectory) {
  const auto before = std::filesystem::current_path();
  ::unsetenv("TESSERA_PLUGIN_PATH");
  std::filesystem::current_path(kExampleDir);  // holds largest_component.so
  const std::vector<std::string> folders = PluginRegistry::foldersFrom("");
  const auto registry = loadOrFail(folders);
  std::filesystem::current_path(before);
  EXPECT_TRUE(folders.empty());
  EXPECT_TRUE(registry->plugins().empty());
  auto calls = resolveStages(*registry, "largest_component");
  ASSERT_FALSE(calls.ok());
  EXPECT_NE(calls.error().message.find("no plugin is loaded"), std::string::npos);
}

TEST(Plugins, TheOptionsFoldersComeBeforeThePluginPath) {
  ::setenv("TESSERA_PLUGIN_PATH", ("/opt/a:" + kExampleDir).c_str(), 1);
  const std::vector<std::string> folders = PluginRegistry::foldersFrom("/x/y::/z");
  ::unsetenv("TESSERA_PLUGIN_PATH");
  EXPECT_EQ(folders, (std::vector<std::string>{"/x/y", "/z", "/opt/a", kExampleDir}));
}

TEST(Plugins, TwoStagesOfOneNameAreRefused) {
  auto registry = PluginRegistry::load({kExampleDir, testDir("duplicate")});
  ASSERT_FALSE(registry.ok());
  EXPECT_NE(registry.error().message.find("'largest_component' is already loaded"),
            std::string::npos);
}

TEST(Plugins, AFailingStageStopsWithItsMessage) {
  const auto registry = loadOrFail({testDir("failing")});
  auto calls = resolveStages(*registry, "always_fails");
  ASSERT_TRUE(calls.ok());
  LabelMap map = labelMap({4, 4, 2});
  std::vector<std::int16_t> ct(32, 0);
  const Status status = runStages(*calls, TESSERA_STAGE_AFTER_NETWORK, ct.data(), map.labels.data(),
                                  map.labels.geometry(), map.table, nullptr);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message, "stage 'always_fails' failed: deliberately failing");
  // Stages after the network do not run before it.
  EXPECT_TRUE(runStages(*calls, TESSERA_STAGE_BEFORE_NETWORK, ct.data(), nullptr,
                        map.labels.geometry(), map.table, nullptr)
                  .ok());
}

TEST(Plugins, AStageBeforeTheNetworkChangesWhatItSeesButNotTheCaller) {
  Segmenter segmenter(testing::smallEngineModel());
  Geometry g;
  g.size = {48, 48, 3};
  std::vector<std::int16_t> ct(static_cast<std::size_t>(g.voxelCount()), 40);  // all soft tissue
  const std::vector<std::int16_t> original = ct;

  const auto registry = loadOrFail({testDir("set_hu")});
  auto calls = resolveStages(*registry, "set_hu=-1024");
  ASSERT_TRUE(calls.ok());
  SegmentOptions options;  // sparse: air everywhere leaves no block to compute
  auto plain = segmentStudy(segmenter, VolumeView(ct.data(), g), options);
  auto staged = segmentStudy(segmenter, VolumeView(ct.data(), g), options, *calls);
  ASSERT_TRUE(plain.ok() && staged.ok()) << staged.status().toString();
  EXPECT_GT(plain->stats.meanActiveFraction, 0.5);
  EXPECT_EQ(staged->stats.meanActiveFraction, 0.0);
  EXPECT_EQ(ct, original);
  ASSERT_EQ(staged->stageReport.size(), 1u);
  EXPECT_EQ(staged->stageReport[0], (std::pair<std::string, double>{"set_hu.value", -1024}));
}

}  // namespace
}  // namespace tessera::models
