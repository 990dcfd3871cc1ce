#include "imaging/stats/label_stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "core/files.h"
#include "core/json.h"
#include "core/parallel.h"

namespace tessera::imaging {
namespace {
namespace fs = std::filesystem;

Geometry makeGeometry(std::array<std::int64_t, 3> size, Vec3 spacing = {1, 1, 1},
                      Vec3 origin = {0, 0, 0}) {
  Geometry g;
  g.size = size;
  g.spacingMm = spacing;
  g.originMm = origin;
  return g;
}

LabelMap makeLabels(const Geometry& g) {
  LabelMap map;
  map.labels = *Image<std::uint8_t>::create(g);
  map.table = defaultLabelTable();
  return map;
}

// Fills the inclusive-exclusive index box [lo, hi) of both images.
void fillBox(LabelMap& map, Volume* ct, std::array<std::int64_t, 3> lo,
             std::array<std::int64_t, 3> hi, std::uint8_t label, std::int16_t hu) {
  for (std::int64_t k = lo[2]; k < hi[2]; ++k)
    for (std::int64_t j = lo[1]; j < hi[1]; ++j)
      for (std::int64_t i = lo[0]; i < hi[0]; ++i) {
        map.labels.at(i, j, k) = label;
        if (ct) ct->at(i, j, k) = hu;
      }
}

const LabelStatistics* findLabel(const std::vector<LabelStatistics>& stats, int value) {
  for (const LabelStatistics& s : stats)
    if (s.value == value) return &s;
  return nullptr;
}

// Oracle: sort the values, numpy.percentile's "linear" method.
double sortedPercentile(const std::vector<int>& sorted, double p) {
  const double position = p * static_cast<double>(sorted.size() - 1);
  const auto lower = static_cast<std::size_t>(std::floor(position));
  const std::size_t upper = std::min(lower + 1, sorted.size() - 1);
  return sorted[lower] + (position - static_cast<double>(lower)) * (sorted[upper] - sorted[lower]);
}

class ThreadCountGuard {
 public:
  explicit ThreadCountGuard(int n) { setNumThreads(n); }
  ~ThreadCountGuard() { setNumThreads(0); }
};

TEST(LabelStatsTest, CubesGiveExactCountsVolumesAndHu) {
  const Geometry g = makeGeometry({20, 18, 12}, {0.8, 1.25, 2.5}, {-10.0, 5.0, 100.0});
  LabelMap map = makeLabels(g);
  Volume ct = *Volume::create(g, -1000);
  fillBox(map, &ct, {3, 4, 2}, {8, 10, 6}, 5, 40);      // 5 × 6 × 4 voxels of liver at 40 HU
  fillBox(map, &ct, {10, 2, 7}, {13, 5, 10}, 7, -100);  // 3 × 3 × 3 voxels of kidney
  auto stats = computeLabelStatistics(ct, map);
  ASSERT_TRUE(stats.ok()) << stats.error().toString();
  ASSERT_EQ(stats->size(), 2u);

  const LabelStatistics& liver = (*stats)[0];
  EXPECT_EQ(liver.value, 5);
  EXPECT_EQ(liver.name, "liver");
  EXPECT_EQ(liver.voxelCount, 120);
  // 120 voxels × 0.8 × 1.25 × 2.5 mm³ = 300 mm³ = 0.3 mL.
  EXPECT_NEAR(liver.volumeMl, 0.3, 1e-12);
  ASSERT_TRUE(liver.hasHu);
  EXPECT_DOUBLE_EQ(liver.huMean, 40.0);
  EXPECT_DOUBLE_EQ(liver.huStd, 0.0);
  EXPECT_DOUBLE_EQ(liver.huMedian, 40.0);
  EXPECT_DOUBLE_EQ(liver.huP05, 40.0);
  EXPECT_DOUBLE_EQ(liver.huP95, 40.0);
  EXPECT_EQ(liver.huMin, 40);
  EXPECT_EQ(liver.huMax, 40);
  EXPECT_EQ(liver.bbox.minIndex, (std::array<std::int64_t, 3>{3, 4, 2}));
  EXPECT_EQ(liver.bbox.maxIndex, (std::array<std::int64_t, 3>{7, 9, 5}));
  // Outer voxel edges: origin + (index ∓ 0.5) × spacing with an identity direction.
  EXPECT_NEAR(liver.bbox.minLpsMm[0], -10.0 + 2.5 * 0.8, 1e-9);
  EXPECT_NEAR(liver.bbox.maxLpsMm[0], -10.0 + 7.5 * 0.8, 1e-9);
  EXPECT_NEAR(liver.bbox.minLpsMm[1], 5.0 + 3.5 * 1.25, 1e-9);
  EXPECT_NEAR(liver.bbox.maxLpsMm[1], 5.0 + 9.5 * 1.25, 1e-9);
  EXPECT_NEAR(liver.bbox.minLpsMm[2], 100.0 + 1.5 * 2.5, 1e-9);
  EXPECT_NEAR(liver.bbox.maxLpsMm[2], 100.0 + 5.5 * 2.5, 1e-9);
  EXPECT_NEAR(liver.bbox.sizeMm[0], 4.0, 1e-12);
  EXPECT_NEAR(liver.bbox.sizeMm[1], 7.5, 1e-12);
  EXPECT_NEAR(liver.bbox.sizeMm[2], 10.0, 1e-12);
  EXPECT_NEAR(liver.centroidLpsMm[0], -10.0 + 5.0 * 0.8, 1e-9);
  EXPECT_NEAR(liver.centroidLpsMm[1], 5.0 + 6.5 * 1.25, 1e-9);
  EXPECT_NEAR(liver.centroidLpsMm[2], 100.0 + 3.5 * 2.5, 1e-9);
  EXPECT_FALSE(liver.touchesFovEdge);
  EXPECT_EQ(liver.fovFaces, 0);

  const LabelStatistics& kidney = (*stats)[1];
  EXPECT_EQ(kidney.value, 7);
  EXPECT_EQ(kidney.voxelCount, 27);
  EXPECT_NEAR(kidney.volumeMl, 27 * 2.5 / 1000.0, 1e-12);
  EXPECT_DOUBLE_EQ(kidney.huMean, -100.0);
  EXPECT_DOUBLE_EQ(kidney.huMedian, -100.0);
}

TEST(LabelStatsTest, HuStatisticsMatchSortBasedOracle) {
  const Geometry g = makeGeometry({33, 29, 23}, {0.7, 0.7, 1.5});
  LabelMap map = makeLabels(g);
  Volume ct = *Volume::create(g);
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> labelDist(0, 4);
  std::normal_distribution<double> huDist(30.0, 400.0);
  std::vector<std::vector<int>> values(256);
  for (std::int64_t n = 0; n < ct.voxelCount(); ++n) {
    const auto label = static_cast<std::uint8_t>(labelDist(rng) * 3);  // 0, 3, 6, 9, 12
    int hu = static_cast<int>(std::lround(huDist(rng)));
    if (n % 997 == 0) hu = -32768;  // the extremes of int16 must land in the histogram
    if (n % 1009 == 0) hu = 32767;
    hu = std::clamp(hu, -32768, 32767);
    map.labels.data()[n] = label;
    ct.data()[n] = static_cast<std::int16_t>(hu);
    values[label].push_back(hu);
  }
  for (int threads : {1, 3}) {
    SCOPED_TRACE(threads);
    ThreadCountGuard guard(threads);
    auto stats = computeLabelStatistics(ct, map);
    ASSERT_TRUE(stats.ok()) << stats.error().toString();
    ASSERT_EQ(stats->size(), 4u);  // background excluded by default
    for (const LabelStatistics& s : *stats) {
      SCOPED_TRACE(static_cast<int>(s.value));
      std::vector<int> sorted = values[s.value];
      std::sort(sorted.begin(), sorted.end());
      ASSERT_EQ(s.voxelCount, static_cast<std::int64_t>(sorted.size()));
      double sum = 0;
      for (int v : sorted) sum += v;
      const double mean = sum / sorted.size();
      double squares = 0;
      for (int v : sorted) squares += (v - mean) * (v - mean);
      EXPECT_NEAR(s.huMean, mean, 1e-9);
      EXPECT_NEAR(s.huStd, std::sqrt(squares / sorted.size()), 1e-9);
      EXPECT_DOUBLE_EQ(s.huMedian, sortedPercentile(sorted, 0.5));
      EXPECT_DOUBLE_EQ(s.huP05, sortedPercentile(sorted, 0.05));
      EXPECT_DOUBLE_EQ(s.huP95, sortedPercentile(sorted, 0.95));
      EXPECT_EQ(s.huMin, sorted.front());
      EXPECT_EQ(s.huMax, sorted.back());
    }
  }
}

TEST(LabelStatsTest, MedianOfEvenCountAveragesTheMiddleValues) {
  const Geometry g = makeGeometry({4, 1, 1});
  LabelMap map = makeLabels(g);
  Volume ct = *Volume::create(g);
  const std::int16_t hu[4] = {10, -20, 40, 30};
  for (int i = 0; i < 4; ++i) {
    map.labels.at(i, 0, 0) = 1;
    ct.at(i, 0, 0) = hu[i];
  }
  auto stats = computeLabelStatistics(ct, map);
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 1u);
  // Sorted -20 10 30 40: median (10 + 30) / 2; p05 at rank 0.15, p95 at rank 2.85.
  EXPECT_DOUBLE_EQ((*stats)[0].huMedian, 20.0);
  EXPECT_NEAR((*stats)[0].huP05, -20 + 0.15 * 30, 1e-9);
  EXPECT_NEAR((*stats)[0].huP95, 30 + 0.85 * 10, 1e-9);
  EXPECT_DOUBLE_EQ((*stats)[0].huMean, 15.0);
  EXPECT_NEAR((*stats)[0].huStd, std::sqrt((35 * 35 + 5 * 5 + 15 * 15 + 25 * 25) / 4.0), 1e-9);
}

TEST(LabelStatsTest, EdgeContactIsFlaggedPerFaceAndVolumeKept) {
  const Geometry g = makeGeometry({10, 12, 14});
  LabelMap map = makeLabels(g);
  // Label f + 1 touches only face f; label 9 sits inside.
  fillBox(map, nullptr, {0, 4, 4}, {2, 6, 6}, 1, 0);     // i_min
  fillBox(map, nullptr, {8, 4, 4}, {10, 6, 6}, 2, 0);    // i_max
  fillBox(map, nullptr, {4, 0, 8}, {6, 2, 10}, 3, 0);    // j_min
  fillBox(map, nullptr, {4, 10, 8}, {6, 12, 10}, 4, 0);  // j_max
  fillBox(map, nullptr, {2, 7, 0}, {4, 9, 2}, 5, 0);     // k_min
  fillBox(map, nullptr, {6, 7, 12}, {8, 9, 14}, 6, 0);   // k_max
  fillBox(map, nullptr, {4, 4, 4}, {6, 6, 6}, 9, 0);
  auto stats = computeLabelStatistics(map);
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 7u);
  for (int f = 0; f < kFovFaceCount; ++f) {
    const LabelStatistics* s = findLabel(*stats, f + 1);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->touchesFovEdge) << fovFaceName(f);
    EXPECT_EQ(s->fovFaces, 1 << f) << fovFaceName(f);
    EXPECT_EQ(s->voxelCount, 8) << "volume at the edge must be reported in full";
    EXPECT_FALSE(s->hasHu);
  }
  const LabelStatistics* inside = findLabel(*stats, 9);
  ASSERT_NE(inside, nullptr);
  EXPECT_FALSE(inside->touchesFovEdge);
  EXPECT_EQ(inside->fovFaces, 0);

  // A structure filling the whole grid touches all six faces.
  LabelMap full = makeLabels(g);
  std::fill(full.labels.data(), full.labels.data() + full.labels.voxelCount(), 4);
  auto all = computeLabelStatistics(full);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].fovFaces, 0x3f);
  EXPECT_EQ((*all)[0].voxelCount, g.voxelCount());
}

TEST(LabelStatsTest, FaceDirectionsFollowTheOrientation) {
  Geometry g = makeGeometry({4, 4, 4});
  EXPECT_EQ(fovFaceDirection(0, g), 'R');  // LPS identity: i grows towards the left
  EXPECT_EQ(fovFaceDirection(1, g), 'L');
  EXPECT_EQ(fovFaceDirection(2, g), 'A');
  EXPECT_EQ(fovFaceDirection(3, g), 'P');
  EXPECT_EQ(fovFaceDirection(4, g), 'I');
  EXPECT_EQ(fovFaceDirection(5, g), 'S');
  g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, -1};  // RAI storage
  EXPECT_EQ(fovFaceDirection(1, g), 'R');
  EXPECT_EQ(fovFaceDirection(3, g), 'A');
  EXPECT_EQ(fovFaceDirection(5, g), 'I');
}

TEST(LabelStatsTest, ObliqueBoundingBoxEnclosesTheRotatedVoxelBox) {
  // Voxel axis i points to +y (posterior), j to −x (right), k to +z.
  Geometry g = makeGeometry({6, 8, 4}, {1.0, 2.0, 3.0}, {50.0, -20.0, 7.0});
  g.direction = {0, -1, 0, 1, 0, 0, 0, 0, 1};
  LabelMap map = makeLabels(g);
  fillBox(map, nullptr, {1, 2, 1}, {4, 5, 3}, 8, 0);  // i 1..3, j 2..4, k 1..2
  auto stats = computeLabelStatistics(map);
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 1u);
  const LabelBoundingBox& box = (*stats)[0].bbox;
  // x = 50 − 2 j: j edges 1.5 and 4.5 → x in [41, 47]; y = −20 + i: [−19.5, −16.5];
  // z = 7 + 3 k: k edges 0.5 and 2.5 → [8.5, 14.5].
  EXPECT_NEAR(box.minLpsMm[0], 41.0, 1e-9);
  EXPECT_NEAR(box.maxLpsMm[0], 47.0, 1e-9);
  EXPECT_NEAR(box.minLpsMm[1], -19.5, 1e-9);
  EXPECT_NEAR(box.maxLpsMm[1], -16.5, 1e-9);
  EXPECT_NEAR(box.minLpsMm[2], 8.5, 1e-9);
  EXPECT_NEAR(box.maxLpsMm[2], 14.5, 1e-9);
  EXPECT_NEAR((*stats)[0].centroidLpsMm[0], 50.0 - 2.0 * 3.0, 1e-9);
  EXPECT_NEAR((*stats)[0].centroidLpsMm[1], -20.0 + 2.0, 1e-9);
}

TEST(LabelStatsTest, MismatchedGeometryIsRefused) {
  const Geometry g = makeGeometry({8, 8, 4}, {1, 1, 2});
  LabelMap map = makeLabels(g);
  Geometry other = g;
  other.spacingMm[2] = 2.5;
  Volume ct = *Volume::create(other);
  auto stats = computeLabelStatistics(ct, map);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code, StatusCode::kInvalidArgument);
  EXPECT_NE(stats.error().message.find("geometry"), std::string::npos);

  other = g;
  other.size[0] = 9;
  Volume wider = *Volume::create(other);
  EXPECT_EQ(computeLabelStatistics(wider, map).error().code, StatusCode::kInvalidArgument);
  EXPECT_EQ(computeLabelStatistics(Volume(), map).error().code, StatusCode::kInvalidArgument);
  EXPECT_EQ(computeLabelStatistics(LabelMap()).error().code, StatusCode::kInvalidArgument);
}

TEST(LabelStatsTest, EmptyLabelMapHasNoLabelsButBackgroundOnRequest) {
  const Geometry g = makeGeometry({7, 5, 3}, {2, 2, 2});
  LabelMap map = makeLabels(g);
  Volume ct = *Volume::create(g, -1000);
  auto stats = computeLabelStatistics(ct, map);
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE(stats->empty());

  StatisticsOptions options;
  options.includeBackground = true;
  auto withBackground = computeLabelStatistics(ct, map, options);
  ASSERT_TRUE(withBackground.ok());
  ASSERT_EQ(withBackground->size(), 1u);
  EXPECT_EQ((*withBackground)[0].value, 0);
  EXPECT_EQ((*withBackground)[0].voxelCount, 105);
  EXPECT_NEAR((*withBackground)[0].volumeMl, 105 * 8 / 1000.0, 1e-12);
  EXPECT_DOUBLE_EQ((*withBackground)[0].huMean, -1000.0);
}

TEST(LabelStatsTest, LabelsMissingFromTheTableAreNamedByValue) {
  const Geometry g = makeGeometry({5, 5, 5});
  LabelMap map = makeLabels(g);
  map.labels.at(2, 2, 2) = 42;
  auto stats = computeLabelStatistics(map);
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ((*stats)[0].name, "label 42");
  EXPECT_EQ((*stats)[0].voxelCount, 1);
}

TEST(LabelStatsTest, CancelledTokenStopsTheComputation) {
  const Geometry g = makeGeometry({16, 16, 16});
  LabelMap map = makeLabels(g);
  CancelToken token;
  token.cancel();
  StatisticsOptions options;
  options.cancel = &token;
  auto stats = computeLabelStatistics(map, options);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.error().code, StatusCode::kCancelled);
}

TEST(LabelStatsTest, JsonReportStatesUnitsAndReadsBack) {
  const Geometry g = makeGeometry({10, 10, 10}, {1, 1, 2});
  LabelMap map = makeLabels(g);
  Volume ct = *Volume::create(g);
  fillBox(map, &ct, {0, 3, 3}, {5, 8, 8}, 5, 60);  // touches i_min
  auto stats = computeLabelStatistics(ct, map);
  ASSERT_TRUE(stats.ok());
  JsonWriter writer;
  statisticsToJson(writer, *stats, g);
  auto parsed = parseJson(writer.str());
  ASSERT_TRUE(parsed.ok()) << parsed.error().toString();
  EXPECT_EQ(parsed->getString("frame"), "LPS");
  const JsonValue* units = parsed->find("units");
  ASSERT_NE(units, nullptr);
  EXPECT_EQ(units->getString("volume"), "mL");
  const JsonValue* labels = parsed->find("labels");
  ASSERT_NE(labels, nullptr);
  ASSERT_EQ(labels->items().size(), 1u);
  const JsonValue& liver = labels->items()[0];
  EXPECT_EQ(liver.getString("name"), "liver");
  EXPECT_DOUBLE_EQ(liver.getNumber("volume_ml"), 0.25);  // 125 voxels of 2 mm³
  EXPECT_DOUBLE_EQ(liver.getNumber("hu_median"), 60.0);
  ASSERT_NE(liver.find("touches_fov_edge"), nullptr);
  EXPECT_TRUE(liver.find("touches_fov_edge")->asBool());
  ASSERT_EQ(liver.find("fov_faces")->items().size(), 1u);
  EXPECT_EQ(liver.find("fov_faces")->items()[0].asString(), "i_min");
  EXPECT_EQ(liver.find("fov_directions")->items()[0].asString(), "R");

  auto labelsOnly = computeLabelStatistics(map);
  ASSERT_TRUE(labelsOnly.ok());
  JsonWriter second;
  statisticsToJson(second, *labelsOnly, g);
  auto reparsed = parseJson(second.str());
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ(reparsed->find("labels")->items()[0].find("hu_mean"), nullptr);
}

TEST(LabelStatsTest, CsvIsWrittenAtomicallyWithOneRowPerLabel) {
  const fs::path dir = fs::temp_directory_path() / ("tessera_stats_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const Geometry g = makeGeometry({6, 6, 6});
  LabelMap map = makeLabels(g);
  map.table.labels.push_back({20, "odd, \"quoted\" name", {1, 2, 3}});
  fillBox(map, nullptr, {1, 1, 1}, {3, 3, 3}, 4, 0);
  fillBox(map, nullptr, {3, 3, 3}, {5, 5, 5}, 20, 0);
  auto stats = computeLabelStatistics(map);
  ASSERT_TRUE(stats.ok());
  const std::string path = (dir / "stats.csv").string();
  ASSERT_TRUE(writeStatisticsCsv(*stats, g, path).ok());
  auto text = readTextFile(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(std::count(text->begin(), text->end(), '\n'), 3);
  EXPECT_EQ(text->rfind("value,name,voxel_count,volume_ml,", 0), 0u);
  EXPECT_NE(text->find("\n4,lung,8,0.008,"), std::string::npos) << *text;
  EXPECT_NE(text->find("\n20,\"odd, \"\"quoted\"\" name\",8,"), std::string::npos) << *text;

  const std::string unwritable = (dir / "missing" / "stats.csv").string();
  EXPECT_FALSE(writeStatisticsCsv(*stats, g, unwritable).ok());
  EXPECT_FALSE(fs::exists(unwritable));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u) << "no temporary may be left behind";
  fs::remove_all(dir);
}

// Timing, not a pass/fail criterion: run with --gtest_also_run_disabled_tests.
TEST(LabelStatsBenchmark, DISABLED_FullSizeCt) {
  const Geometry g = makeGeometry({512, 512, 800}, {0.8, 0.8, 1.0});
  LabelMap map = makeLabels(g);
  Volume ct = *Volume::create(g);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> huDist(-1024, 1500);
  for (std::int64_t k = 0; k < g.size[2]; ++k)
    for (std::int64_t j = 0; j < g.size[1]; ++j)
      for (std::int64_t i = 0; i < g.size[0]; ++i) {
        const double r = std::hypot(i - 256.0, j - 256.0);
        map.labels.at(i, j, k) = r < 200 ? static_cast<std::uint8_t>(1 + (i / 40 + j / 50) % 9) : 0;
        ct.at(i, j, k) = static_cast<std::int16_t>(huDist(rng));
      }
  const auto start = std::chrono::steady_clock::now();
  auto stats = computeLabelStatistics(ct, map);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(stats.ok());
  std::int64_t total = 0;
  for (const LabelStatistics& s : *stats) total += s.voxelCount;
  EXPECT_GT(total, 0);
  std::printf("label statistics, 512x512x800, %d threads: %.3f s (%.1f Mvoxel/s)\n", numThreads(),
              seconds, g.voxelCount() / seconds / 1e6);
}

}  // namespace
}  // namespace tessera::imaging
