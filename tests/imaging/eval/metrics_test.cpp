#include "imaging/eval/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "core/json.h"
#include "core/parallel.h"
#include "imaging/eval/distance_transform.h"

namespace tessera::imaging {
namespace {

Geometry makeGeometry(std::array<std::int64_t, 3> size, Vec3 spacing = {1, 1, 1}) {
  Geometry g;
  g.size = size;
  g.spacingMm = spacing;
  return g;
}

LabelMap makeLabels(const Geometry& g) {
  return LabelMap{*Image<std::uint8_t>::create(g), defaultLabelTable()};
}

void fillBox(LabelMap& map, std::array<std::int64_t, 3> lo, std::array<std::int64_t, 3> hi,
             std::uint8_t label) {
  for (std::int64_t k = lo[2]; k < hi[2]; ++k)
    for (std::int64_t j = lo[1]; j < hi[1]; ++j)
      for (std::int64_t i = lo[0]; i < hi[0]; ++i) map.labels.at(i, j, k) = label;
}

const LabelMetrics* find(const EvaluationResult& result, int value) {
  for (const LabelMetrics& m : result.labels)
    if (m.value == value) return &m;
  return nullptr;
}

// Oracle for the surface distances: surface voxels by their definition and
// all pairs of distances, then numpy-style percentiles.
struct BruteForce {
  double hd95 = 0;
  double hausdorff = 0;
};

std::vector<std::array<std::int64_t, 3>> surfaceVoxels(const LabelMap& map, std::uint8_t value) {
  const Geometry& g = map.labels.geometry();
  auto inside = [&](std::int64_t i, std::int64_t j, std::int64_t k) {
    if (i < 0 || j < 0 || k < 0 || i >= g.size[0] || j >= g.size[1] || k >= g.size[2]) return false;
    return map.labels.at(i, j, k) == value;
  };
  std::vector<std::array<std::int64_t, 3>> out;
  for (std::int64_t k = 0; k < g.size[2]; ++k)
    for (std::int64_t j = 0; j < g.size[1]; ++j)
      for (std::int64_t i = 0; i < g.size[0]; ++i)
        if (inside(i, j, k) &&
            (!inside(i - 1, j, k) || !inside(i + 1, j, k) || !inside(i, j - 1, k) ||
             !inside(i, j + 1, k) || !inside(i, j, k - 1) || !inside(i, j, k + 1)))
          out.push_back({i, j, k});
  return out;
}

double sortedPercentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const double position = p * (values.size() - 1);
  const auto lower = static_cast<std::size_t>(std::floor(position));
  const std::size_t upper = std::min(lower + 1, values.size() - 1);
  return values[lower] + (position - lower) * (values[upper] - values[lower]);
}

BruteForce bruteForce(const LabelMap& a, const LabelMap& b, std::uint8_t value) {
  const Vec3 s = a.labels.geometry().spacingMm;
  const auto sa = surfaceVoxels(a, value), sb = surfaceVoxels(b, value);
  auto directed = [&](const auto& from, const auto& to) {
    std::vector<double> out;
    for (const auto& p : from) {
      double best = std::numeric_limits<double>::infinity();
      for (const auto& q : to) {
        const double dx = (p[0] - q[0]) * s[0], dy = (p[1] - q[1]) * s[1],
                     dz = (p[2] - q[2]) * s[2];
        best = std::min(best, dx * dx + dy * dy + dz * dz);
      }
      out.push_back(std::sqrt(best));
    }
    return out;
  };
  const auto ab = directed(sa, sb), ba = directed(sb, sa);
  BruteForce result;
  result.hd95 = std::max(sortedPercentile(ab, 0.95), sortedPercentile(ba, 0.95));
  result.hausdorff =
      std::max(*std::max_element(ab.begin(), ab.end()), *std::max_element(ba.begin(), ba.end()));
  return result;
}

TEST(DistanceTransformTest, MatchesBruteForceWithAnisotropicSpacing) {
  const std::array<std::int64_t, 3> size{19, 13, 11};
  const Vec3 spacing{0.7, 1.9, 2.6};
  std::mt19937 rng(99);
  std::bernoulli_distribution sparse(0.01);
  std::vector<std::uint8_t> feature(size[0] * size[1] * size[2]);
  for (auto& f : feature) f = sparse(rng);
  feature[5] = 1;
  const DistanceBuffer d = squaredDistanceTransform(feature.data(), size, spacing);
  ASSERT_EQ(d.size(), feature.size());
  for (std::int64_t k = 0; k < size[2]; ++k)
    for (std::int64_t j = 0; j < size[1]; ++j)
      for (std::int64_t i = 0; i < size[0]; ++i) {
        double best = std::numeric_limits<double>::infinity();
        for (std::int64_t n = 0; n < static_cast<std::int64_t>(feature.size()); ++n) {
          if (!feature[n]) continue;
          const std::int64_t fi = n % size[0], fj = n / size[0] % size[1],
                             fk = n / size[0] / size[1];
          const double dx = (i - fi) * spacing[0], dy = (j - fj) * spacing[1],
                       dz = (k - fk) * spacing[2];
          best = std::min(best, dx * dx + dy * dy + dz * dz);
        }
        ASSERT_NEAR(d[i + size[0] * (j + size[1] * k)], best, 1e-3 * (1 + best))
            << i << "," << j << "," << k;
      }
}

TEST(DistanceTransformTest, NoFeatureIsInfiniteEverywhere) {
  std::vector<std::uint8_t> feature(4 * 5 * 6, 0);
  const DistanceBuffer d = squaredDistanceTransform(feature.data(), {4, 5, 6}, {1, 1, 1});
  for (float x : d) EXPECT_TRUE(std::isinf(x));
}

TEST(MetricsTest, IdenticalMapsScorePerfectly) {
  const Geometry g = makeGeometry({16, 14, 12}, {0.8, 0.8, 2.0});
  LabelMap map = makeLabels(g);
  fillBox(map, {2, 2, 2}, {9, 8, 7}, 5);
  fillBox(map, {10, 3, 1}, {15, 12, 11}, 6);
  auto result = evaluateSegmentation(map, map);
  ASSERT_TRUE(result.ok()) << result.error().toString();
  ASSERT_EQ(result->labels.size(), 2u);
  for (const LabelMetrics& m : result->labels) {
    EXPECT_TRUE(m.scored);
    EXPECT_DOUBLE_EQ(m.dice, 1.0);
    ASSERT_TRUE(m.hd95Mm.has_value());
    EXPECT_DOUBLE_EQ(*m.hd95Mm, 0.0);
    EXPECT_DOUBLE_EQ(*m.hausdorffMm, 0.0);
    EXPECT_EQ(m.predVoxels, m.refVoxels);
  }
  EXPECT_EQ(result->scoredLabels, 2);
  EXPECT_DOUBLE_EQ(result->meanDice, 1.0);
  EXPECT_NEAR(find(*result, 5)->refVolumeMl, 7 * 6 * 5 * 0.8 * 0.8 * 2.0 / 1000.0, 1e-12);
}

// A cube of side n shifted by k voxels along one axis of spacing s: every
// surface distance is at most k·s, and the two faces across the shift (a
// third of each surface) sit exactly k·s away, so HD95 = Hausdorff = k·s.
// The overlap is n²(n − k) voxels: Dice = (n − k) / n.
TEST(MetricsTest, ShiftedCubeHasAnalyticDiceAndHausdorff) {
  const Vec3 spacing{0.7, 1.3, 2.5};
  constexpr std::int64_t n = 8;
  for (int axis = 0; axis < 3; ++axis) {
    for (std::int64_t shift : {1, 3}) {
      SCOPED_TRACE(::testing::Message() << "axis " << axis << " shift " << shift);
      const Geometry g = makeGeometry({20, 20, 20}, spacing);
      LabelMap ref = makeLabels(g), pred = makeLabels(g);
      std::array<std::int64_t, 3> lo{4, 5, 6}, hi{4 + n, 5 + n, 6 + n};
      fillBox(ref, lo, hi, 7);
      lo[axis] += shift;
      hi[axis] += shift;
      fillBox(pred, lo, hi, 7);
      auto result = evaluateSegmentation(pred, ref);
      ASSERT_TRUE(result.ok());
      ASSERT_EQ(result->labels.size(), 1u);
      const LabelMetrics& m = result->labels[0];
      EXPECT_NEAR(m.dice, double(n - shift) / n, 1e-12);
      ASSERT_TRUE(m.hd95Mm.has_value());
      EXPECT_NEAR(*m.hd95Mm, shift * spacing[axis], 1e-5);
      EXPECT_NEAR(*m.hausdorffMm, shift * spacing[axis], 1e-5);
    }
  }
}

TEST(MetricsTest, RandomShapesMatchTheBruteForceOracle) {
  const Geometry g = makeGeometry({18, 16, 12}, {0.9, 1.4, 2.2});
  std::mt19937 rng(5);
  for (int trial = 0; trial < 3; ++trial) {
    SCOPED_TRACE(trial);
    LabelMap ref = makeLabels(g), pred = makeLabels(g);
    // Unions of random boxes, some touching the grid's edge.
    std::uniform_int_distribution<int> start(0, 10), extent(2, 7);
    for (LabelMap* map : {&ref, &pred})
      for (int box = 0; box < 4; ++box) {
        std::array<std::int64_t, 3> lo, hi;
        for (int a = 0; a < 3; ++a) {
          lo[a] = std::min<std::int64_t>(start(rng), g.size[a] - 2);
          hi[a] = std::min<std::int64_t>(lo[a] + extent(rng), g.size[a]);
        }
        fillBox(*map, lo, hi, 3);
      }
    auto result = evaluateSegmentation(pred, ref);
    ASSERT_TRUE(result.ok());
    ASSERT_EQ(result->labels.size(), 1u);
    const BruteForce oracle = bruteForce(pred, ref, 3);
    ASSERT_TRUE(result->labels[0].hd95Mm.has_value());
    EXPECT_NEAR(*result->labels[0].hd95Mm, oracle.hd95, 1e-4);
    EXPECT_NEAR(*result->labels[0].hausdorffMm, oracle.hausdorff, 1e-4);
    std::int64_t both = 0, p = 0, r = 0;
    for (std::int64_t v = 0; v < g.voxelCount(); ++v) {
      p += pred.labels.data()[v] == 3;
      r += ref.labels.data()[v] == 3;
      both += pred.labels.data()[v] == 3 && ref.labels.data()[v] == 3;
    }
    EXPECT_NEAR(result->labels[0].dice, 2.0 * both / (p + r), 1e-12);
  }
}

TEST(MetricsTest, DisjointAndAbsentLabelsFollowTheConventions) {
  const Geometry g = makeGeometry({30, 10, 10}, {1.0, 1.0, 1.0});
  LabelMap ref = makeLabels(g), pred = makeLabels(g);
  fillBox(ref, {2, 2, 2}, {6, 6, 6}, 5);  // liver in both, far apart
  fillBox(pred, {20, 2, 2}, {24, 6, 6}, 5);
  fillBox(pred, {10, 2, 2}, {12, 4, 4}, 6);  // spleen only predicted
  fillBox(ref, {14, 6, 6}, {16, 8, 8}, 7);   // kidney only in the reference
  EvaluationOptions options;
  options.labels = {7, 5, 6, 9};  // 9 (brain) is absent from both
  auto result = evaluateSegmentation(pred, ref, options);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->labels.size(), 4u);
  EXPECT_EQ(result->labels[0].value, 5);  // value order

  const LabelMetrics* liver = find(*result, 5);
  EXPECT_TRUE(liver->scored);
  EXPECT_DOUBLE_EQ(liver->dice, 0.0);
  ASSERT_TRUE(liver->hausdorffMm.has_value());
  // Farthest pair of surface voxels: x = 2 against x = 20, same y and z.
  EXPECT_NEAR(*liver->hausdorffMm, 18.0, 1e-5);
  EXPECT_GE(*liver->hd95Mm, 15.0);  // the nearest faces are 15 mm apart
  EXPECT_LE(*liver->hd95Mm, 18.0);

  for (int value : {6, 7}) {
    const LabelMetrics* m = find(*result, value);
    EXPECT_TRUE(m->scored);
    EXPECT_DOUBLE_EQ(m->dice, 0.0);
    EXPECT_FALSE(m->hd95Mm.has_value());
    EXPECT_FALSE(m->hausdorffMm.has_value());
  }
  EXPECT_EQ(find(*result, 6)->predVoxels, 8);
  EXPECT_EQ(find(*result, 7)->refVoxels, 8);

  const LabelMetrics* brain = find(*result, 9);
  EXPECT_FALSE(brain->scored);
  EXPECT_EQ(result->scoredLabels, 3);
  EXPECT_DOUBLE_EQ(result->meanDice, 0.0);

  JsonWriter writer;
  evaluationToJson(writer, *result);
  auto parsed = parseJson(writer.str());
  ASSERT_TRUE(parsed.ok()) << writer.str();
  const auto& labels = parsed->find("labels")->items();
  ASSERT_EQ(labels.size(), 4u);
  EXPECT_TRUE(labels[1].find("hd95_mm")->isNull());  // spleen: one map lacks it
  EXPECT_TRUE(labels[3].find("dice")->isNull());     // brain: not scored
  EXPECT_EQ(parsed->getNumber("scored_labels"), 3);

  const std::string table = evaluationTable(*result);
  EXPECT_NE(table.find("inf"), std::string::npos) << table;
  EXPECT_NE(table.find("absent from both"), std::string::npos) << table;
  EXPECT_NE(table.find("mean Dice over 3 labels: 0.0000"), std::string::npos) << table;
}

TEST(MetricsTest, MeanDiceAveragesScoredLabels) {
  const Geometry g = makeGeometry({20, 10, 10});
  LabelMap ref = makeLabels(g), pred = makeLabels(g);
  fillBox(ref, {0, 0, 0}, {4, 4, 4}, 1);
  fillBox(pred, {0, 0, 0}, {4, 4, 4}, 1);  // Dice 1
  fillBox(ref, {10, 0, 0}, {14, 4, 4}, 2);
  fillBox(pred, {10, 0, 0}, {14, 4, 2}, 2);  // 32 of 64 voxels: Dice 2·32/96
  EvaluationOptions options;
  options.dicesOnly = true;
  auto result = evaluateSegmentation(pred, ref, options);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->scoredLabels, 2);
  EXPECT_NEAR(result->meanDice, (1.0 + 64.0 / 96.0) / 2.0, 1e-12);
  EXPECT_FALSE(result->labels[0].hd95Mm.has_value());
  const std::string table = evaluationTable(*result);
  EXPECT_NE(table.find("soft_tissue"), std::string::npos);
  EXPECT_NE(table.find("0.6667"), std::string::npos) << table;
  EXPECT_EQ(table.find("inf"), std::string::npos) << "distances skipped, not infinite: " << table;
}

TEST(MetricsTest, GeometryMismatchIsRefused) {
  LabelMap a = makeLabels(makeGeometry({8, 8, 8}, {1, 1, 1}));
  LabelMap b = makeLabels(makeGeometry({8, 8, 8}, {1, 1, 1.5}));
  auto result = evaluateSegmentation(a, b);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, StatusCode::kInvalidArgument);
  EXPECT_NE(result.error().message.find("geometry"), std::string::npos);
  LabelMap c = makeLabels(makeGeometry({8, 9, 8}));
  EXPECT_FALSE(evaluateSegmentation(a, c).ok());
  EXPECT_FALSE(evaluateSegmentation(a, LabelMap()).ok());
}

TEST(MetricsTest, EmptyMapsScoreNothing) {
  const Geometry g = makeGeometry({6, 6, 6});
  auto result = evaluateSegmentation(makeLabels(g), makeLabels(g));
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->labels.empty());
  EXPECT_EQ(result->scoredLabels, 0);
  EXPECT_TRUE(std::isnan(result->meanDice));
  EXPECT_NE(evaluationTable(*result).find("no label to score"), std::string::npos);
}

TEST(MetricsTest, LabelListsAcceptValuesAndNames) {
  const LabelTable table = defaultLabelTable();
  auto parsed = parseLabelList("liver, 7,kidney,200", table);
  ASSERT_TRUE(parsed.ok()) << parsed.error().toString();
  EXPECT_EQ(*parsed, (std::vector<std::uint8_t>{5, 7, 7, 200}));
  for (const char* bad : {"", "liver,,spleen", "256", "livr", "1000"}) {
    SCOPED_TRACE(bad);
    auto result = parseLabelList(bad, table);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, StatusCode::kInvalidArgument);
  }
  EXPECT_NE(parseLabelList("livr", table).error().message.find("liver"), std::string::npos);
}

// Timing, not a pass/fail criterion: run with --gtest_also_run_disabled_tests.
TEST(MetricsBenchmark, DISABLED_FullSizeLabelMaps) {
  const Geometry g = makeGeometry({512, 512, 300}, {0.8, 0.8, 1.5});
  LabelMap ref = makeLabels(g), pred = makeLabels(g);
  for (std::int64_t k = 0; k < g.size[2]; ++k)
    for (std::int64_t j = 0; j < g.size[1]; ++j)
      for (std::int64_t i = 0; i < g.size[0]; ++i) {
        const double r = std::hypot(i - 256.0, j - 256.0);
        ref.labels.at(i, j, k) = r < 200 ? static_cast<std::uint8_t>(1 + (i / 60 + j / 70) % 9) : 0;
        const double rp = std::hypot(i - 258.0, j - 255.0);
        pred.labels.at(i, j, k) =
            rp < 201 ? static_cast<std::uint8_t>(1 + ((i + 2) / 60 + j / 70) % 9) : 0;
      }
  const auto start = std::chrono::steady_clock::now();
  auto result = evaluateSegmentation(pred, ref);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->scoredLabels, 9);
  std::printf("eval, 512x512x300, 9 labels, %d threads: %.2f s, mean Dice %.4f\n", numThreads(),
              seconds, result->meanDice);
}

}  // namespace
}  // namespace tessera::imaging
