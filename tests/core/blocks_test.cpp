#include "core/blocks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace tessera {
namespace {

using Slice = std::vector<std::int16_t>;

// Deterministic approximately normal noise (sum of four uniforms), so the
// tests do not depend on a standard library's distributions.
class Noise {
 public:
  explicit Noise(std::uint64_t seed) : engine_(seed) {}
  double normal(double sigma) {
    double s = 0;
    for (int i = 0; i < 4; ++i) s += static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    return (s - 2.0) * std::sqrt(3.0) * sigma;
  }

 private:
  std::mt19937_64 engine_;
};

std::int16_t clampHu(double v) {
  return static_cast<std::int16_t>(std::clamp(std::lround(v), -1024L, 3071L));
}

Slice airSlice(int w, int h, double sigma, std::uint64_t seed) {
  Slice s(static_cast<std::size_t>(w) * h);
  Noise noise(seed);
  for (auto& v : s) v = clampHu(-1000 + (sigma > 0 ? noise.normal(sigma) : 0.0));
  return s;
}

// Chebyshev distance in blocks between block b and the nearest block of `set`.
int distanceToSet(const BlockMask& set, int bx, int by) {
  int best = 1 << 30;
  for (int y = 0; y < set.blocksY(); ++y)
    for (int x = 0; x < set.blocksX(); ++x)
      if (set.test(x, y)) best = std::min(best, std::max(std::abs(x - bx), std::abs(y - by)));
  return best;
}

// Blocks holding at least one pixel for which `inside` is true.
template <class Inside>
BlockMask touchedBlocks(const BlockGrid& grid, Inside inside) {
  BlockMask mask(grid);
  for (int y = 0; y < grid.height(); ++y)
    for (int x = 0; x < grid.width(); ++x)
      if (inside(x, y)) mask.set(grid.blockOfPixel(x, y));
  return mask;
}

// --- BlockGrid --------------------------------------------------------------

TEST(BlockGrid, PadsOddSizesToWholeBlocks) {
  const BlockGrid grid(500, 333);
  EXPECT_EQ(grid.blocksX(), 32);  // ceil(500 / 16)
  EXPECT_EQ(grid.blocksY(), 21);  // ceil(333 / 16)
  EXPECT_EQ(grid.blockCount(), 32 * 21);
  EXPECT_EQ(grid.paddedWidth(), 512);
  EXPECT_EQ(grid.paddedHeight(), 336);
  EXPECT_EQ(grid.pixelRect(31, 20), (PixelRect{496, 320, 500, 333}));
  EXPECT_EQ(grid.paddedRect(31, 20), (PixelRect{496, 320, 512, 336}));
  EXPECT_EQ(grid.pixelRect(0, 0), (PixelRect{0, 0, 16, 16}));
  EXPECT_EQ(grid.blockOfPixel(499, 332), grid.index(31, 20));
  EXPECT_EQ(grid.blockX(grid.index(7, 9)), 7);
  EXPECT_EQ(grid.blockY(grid.index(7, 9)), 9);
}

TEST(BlockGrid, BlocksPartitionTheSlice) {
  for (auto [w, h] :
       {std::pair{500, 333}, std::pair{512, 512}, std::pair{1, 1}, std::pair{17, 16}}) {
    const BlockGrid grid(w, h);
    std::vector<int> hits(static_cast<std::size_t>(w) * h, 0);
    int area = 0;
    for (int by = 0; by < grid.blocksY(); ++by) {
      for (int bx = 0; bx < grid.blocksX(); ++bx) {
        const PixelRect r = grid.pixelRect(bx, by);
        EXPECT_FALSE(r.empty());
        area += r.area();
        for (int y = r.y0; y < r.y1; ++y)
          for (int x = r.x0; x < r.x1; ++x) {
            ++hits[y * w + x];
            EXPECT_EQ(grid.blockOfPixel(x, y), grid.index(bx, by));
          }
      }
    }
    EXPECT_EQ(area, w * h);
    EXPECT_TRUE(std::all_of(hits.begin(), hits.end(), [](int c) { return c == 1; }));
  }
}

TEST(BlockGrid, LevelsKeepImagePixelsPerBlock) {
  const BlockGrid grid(512, 512);
  EXPECT_EQ(grid.maxLevel(), 4);
  for (int level = 0; level <= 4; ++level) {
    EXPECT_EQ(grid.levelBlockSize(level), 16 >> level);
    EXPECT_EQ(grid.levelWidth(level), 512 >> level);
    // The blocks still tile the feature map exactly.
    EXPECT_EQ(grid.levelWidth(level), grid.blocksX() * grid.levelBlockSize(level));
    const PixelRect r = grid.levelRect(5, 3, level);
    EXPECT_EQ(r.x0, 5 * (16 >> level));
    EXPECT_EQ(r.y0, 3 * (16 >> level));
    EXPECT_EQ(r.width(), 16 >> level);
  }
  // At the bottleneck of a 4-pooling U-Net one feature pixel is one block.
  EXPECT_EQ(grid.levelWidth(4), 32);
  EXPECT_EQ(BlockGrid(500, 333).levelHeight(4), 21);
}

TEST(BlockGrid, CreateRejectsBadSizes) {
  EXPECT_FALSE(BlockGrid::create(0, 10).ok());
  EXPECT_FALSE(BlockGrid::create(10, -1).ok());
  EXPECT_FALSE(BlockGrid::create(10, 10, 12).ok());
  EXPECT_EQ(BlockGrid::create(10, 10, 12).error().code, StatusCode::kInvalidArgument);
  auto ok = BlockGrid::create(500, 333);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, BlockGrid(500, 333));
}

// --- BlockMask --------------------------------------------------------------

TEST(BlockMask, SetTestCountAndFraction) {
  BlockMask mask(4, 3);
  EXPECT_TRUE(mask.none());
  EXPECT_FALSE(mask.all());
  mask.set(1, 2);
  mask.set(0);
  EXPECT_TRUE(mask.test(1, 2));
  EXPECT_TRUE(mask.test(0, 0));
  EXPECT_FALSE(mask.test(2, 2));
  EXPECT_EQ(mask.count(), 2);
  EXPECT_DOUBLE_EQ(mask.activeFraction(), 2.0 / 12.0);
  EXPECT_EQ(mask.activeIndices(), (std::vector<int>{0, 9}));
  mask.set(0, false);
  EXPECT_EQ(mask.count(), 1);
  mask.fill(true);
  EXPECT_TRUE(mask.all());
  EXPECT_DOUBLE_EQ(mask.activeFraction(), 1.0);
}

TEST(BlockMask, UnionAndIntersection) {
  BlockMask a(3, 2), b(3, 2);
  a.set(0, 0);
  a.set(1, 1);
  b.set(1, 1);
  b.set(2, 0);
  BlockMask u = a;
  u |= b;
  EXPECT_EQ(u.activeIndices(), (std::vector<int>{0, 2, 4}));
  BlockMask i = a;
  i &= b;
  EXPECT_EQ(i.activeIndices(), (std::vector<int>{4}));
}

BlockMask naiveDilate(const BlockMask& in, int k) {
  BlockMask out(in.blocksX(), in.blocksY());
  for (int y = 0; y < in.blocksY(); ++y)
    for (int x = 0; x < in.blocksX(); ++x)
      for (int dy = -k; dy <= k; ++dy)
        for (int dx = -k; dx <= k; ++dx) {
          const int sx = x + dx, sy = y + dy;
          if (sx >= 0 && sy >= 0 && sx < in.blocksX() && sy < in.blocksY() && in.test(sx, sy))
            out.set(x, y);
        }
  return out;
}

TEST(BlockMask, DilationMatchesNaiveChebyshev) {
  std::mt19937_64 engine(11);
  for (auto [w, h] : {std::pair{32, 32}, std::pair{32, 21}, std::pair{7, 5}, std::pair{1, 9}}) {
    for (int density : {2, 10, 40}) {
      BlockMask mask(w, h);
      for (int i = 0; i < mask.size(); ++i) mask.set(i, static_cast<int>(engine() % 100) < density);
      for (int k = 0; k <= 3; ++k) {
        SCOPED_TRACE(testing::Message() << w << "x" << h << " density " << density << " k " << k);
        EXPECT_EQ(mask.dilated(k), naiveDilate(mask, k));
      }
    }
  }
}

TEST(BlockMask, DilationOfOneBlockIsASquareClippedAtBorders) {
  BlockMask mask(10, 10);
  mask.set(0, 5);
  mask.dilate(2);
  EXPECT_EQ(mask.count(), 3 * 5);  // columns 0..2, rows 3..7
  EXPECT_TRUE(mask.test(2, 7));
  EXPECT_FALSE(mask.test(3, 5));
  EXPECT_FALSE(mask.test(0, 8));
}

TEST(BlockMask, FillHolesActivatesOnlyEnclosedRegions) {
  // A ring of active blocks around a 2x2 hole, and a C open to the border.
  BlockMask mask(12, 8);
  for (int x = 1; x <= 4; ++x) {
    mask.set(x, 1);
    mask.set(x, 4);
  }
  for (int y = 1; y <= 4; ++y) {
    mask.set(1, y);
    mask.set(4, y);
  }
  for (int x = 7; x <= 10; ++x) {
    mask.set(x, 2);
    mask.set(x, 6);
  }
  for (int y = 2; y <= 6; ++y) mask.set(10, y);  // C opens towards x = 7 and beyond
  BlockMask expected = mask;
  for (int y = 2; y <= 3; ++y)
    for (int x = 2; x <= 3; ++x) expected.set(x, y);
  mask.fillHoles();
  EXPECT_EQ(mask, expected);
  // A hole reached only through a winding corridor is still outside.
  BlockMask spiral(7, 7, true);
  for (int x = 0; x <= 5; ++x) spiral.set(x, 1, false);  // corridor from the border
  for (int y = 1; y <= 5; ++y) spiral.set(5, y, false);
  for (int x = 2; x <= 5; ++x) spiral.set(x, 5, false);
  BlockMask before = spiral;
  spiral.fillHoles();
  EXPECT_EQ(spiral, before);
  BlockMask empty(5, 5), full(5, 5, true);
  empty.fillHoles();
  full.fillHoles();
  EXPECT_TRUE(empty.none());
  EXPECT_TRUE(full.all());
}

TEST(BlockMask, DilationFastPathsKeepEmptyAndFull) {
  BlockMask empty(32, 32), full(32, 32, true);
  EXPECT_TRUE(empty.dilated(3).none());
  EXPECT_TRUE(full.dilated(3).all());
}

// --- density detector -------------------------------------------------------

TEST(Detector, AirWithoutAndWithNoiseHasNoBlocks) {
  for (double sigma : {0.0, 10.0, 20.0, 40.0}) {
    SCOPED_TRACE(sigma);
    const Slice air = airSlice(512, 512, sigma, 3);
    std::vector<BlockFeatures> features;
    const BlockMask mask = detectBlocks(air.data(), 512, 512, DetectorOptions{}, &features);
    EXPECT_TRUE(mask.none()) << mask.count() << " blocks active";
    float maxSpread = 0;
    for (const BlockFeatures& f : features) maxSpread = std::max(maxSpread, f.spreadHu);
    // The features see the noise, the thresholds ignore it.
    EXPECT_NEAR(maxSpread, sigma, 0.25 * sigma + 1.0);
  }
}

TEST(Detector, WaterDiscActivatesItsBlocksAndNothingFarAway) {
  const int w = 512, h = 512;
  Slice s = airSlice(w, h, 15.0, 5);
  Noise noise(6);
  auto inDisc = [](int x, int y) { return std::hypot(x - 260.5, y - 240.5) <= 100.0; };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (inDisc(x, y)) s[y * w + x] = clampHu(noise.normal(15.0));
  const BlockGrid grid(w, h);
  const BlockMask disc = touchedBlocks(grid, inDisc);
  for (int dilation : {0, 1, 2}) {
    SCOPED_TRACE(dilation);
    DetectorOptions options;
    options.dilation = dilation;
    const BlockMask mask = detectBlocks(s.data(), w, h, options);
    for (int by = 0; by < grid.blocksY(); ++by)
      for (int bx = 0; bx < grid.blocksX(); ++bx) {
        const int d = distanceToSet(disc, bx, by);
        // Blocks with a sliver of the disc may wait for the dilation to be
        // added; blocks well inside never do.
        if (d == 0 && !mask.test(bx, by)) {
          const PixelRect r = grid.pixelRect(bx, by);
          int inside = 0;
          for (int y = r.y0; y < r.y1; ++y)
            for (int x = r.x0; x < r.x1; ++x) inside += inDisc(x, y);
          EXPECT_LT(inside, 13) << "block " << bx << "," << by;
          EXPECT_EQ(dilation, 0);
        }
        if (d > dilation) {
          EXPECT_FALSE(mask.test(bx, by)) << "block " << bx << "," << by;
        }
      }
    if (dilation >= 1) {
      BlockMask missing = disc;
      missing &= mask;
      EXPECT_EQ(missing, disc);
    }
  }
}

TEST(Detector, LungParenchymaBelowTheBodyThresholdIsActive) {
  // Aerated lung (-850 ± 40 HU) has no pixel above -500 HU, yet it is anatomy.
  const int w = 128, h = 128;
  Slice s = airSlice(w, h, 15.0, 8);
  Noise noise(9);
  for (int y = 32; y < 96; ++y)
    for (int x = 32; x < 96; ++x) s[y * w + x] = clampHu(-850 + noise.normal(40.0));
  DetectorOptions options;
  options.dilation = 0;
  std::vector<BlockFeatures> features;
  const BlockMask mask = detectBlocks(s.data(), w, h, options, &features);
  const BlockGrid grid(w, h);
  for (int by = 2; by < 6; ++by)
    for (int bx = 2; bx < 6; ++bx) {
      EXPECT_TRUE(mask.test(bx, by));
      EXPECT_LT(features[grid.index(bx, by)].bodyFraction, 0.05f);
    }
  EXPECT_EQ(mask.count(), 16);
}

TEST(Detector, TableAloneActivatesOnlyBlocksAlongIt) {
  // A patient table without a patient: a curved 3-pixel plastic shell (300 HU)
  // over a foam core (-930 HU). The detector does not tell it from anatomy by
  // density, so its blocks are active (the network labels them background),
  // but nothing away from the table is.
  const int w = 512, h = 512;
  Slice s = airSlice(w, h, 15.0, 12);
  auto top = [](int x) { return 430.0 - 40.0 * std::pow((x - 256.0) / 230.0, 2); };
  auto inShell = [&](int x, int y) {
    if (x < 26 || x > 486) return false;
    const double d = y - top(x);
    return (d >= 0 && d < 3) || (d >= 33 && d < 36);
  };
  auto inCore = [&](int x, int y) {
    const double d = y - top(x);
    return x >= 26 && x <= 486 && d >= 3 && d < 33;
  };
  Noise noise(13);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (inShell(x, y)) s[y * w + x] = clampHu(300 + noise.normal(15.0));
      if (inCore(x, y)) s[y * w + x] = clampHu(-930 + noise.normal(15.0));
    }
  const BlockGrid grid(w, h);
  const BlockMask table = touchedBlocks(grid, [&](int x, int y) { return inShell(x, y); });
  const BlockMask mask = detectBlocks(s.data(), w, h);
  BlockMask covered = table;
  covered &= mask;
  EXPECT_EQ(covered, table);  // every block the shell touches
  for (int i = 0; i < mask.size(); ++i) {
    if (mask.test(i)) {
      EXPECT_LE(distanceToSet(table, grid.blockX(i), grid.blockY(i)), 1);
    }
  }
  for (int by = 0; by < 22; ++by)
    for (int bx = 0; bx < grid.blocksX(); ++bx) EXPECT_FALSE(mask.test(bx, by));
}

TEST(Detector, GasEnclosedByTissueIsActive) {
  // A water disc with a pocket of gas (-1000 HU, like outside air) larger
  // than several blocks: only its surroundings tell it is inside the body.
  const int w = 256, h = 256;
  Slice s = airSlice(w, h, 15.0, 21);
  Noise noise(22);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double r = std::hypot(x - 128.0, y - 128.0);
      if (r <= 110 && r > 60) s[y * w + x] = clampHu(40 + noise.normal(15.0));
    }
  DetectorOptions options;
  options.dilation = 0;
  EXPECT_TRUE(detectBlocks(s.data(), w, h, options).test(8, 8));
  options.fillHoles = false;
  EXPECT_FALSE(detectBlocks(s.data(), w, h, options).test(8, 8));
}

TEST(Detector, FeaturesOfKnownPatterns) {
  const int w = 32, h = 16;
  Slice s(w * h, -1000);
  // Block 0: left half 0 HU, right half -1000 HU. Block 1: constant 40 HU.
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < 8; ++x) s[y * w + x] = 0;
    for (int x = 16; x < 32; ++x) s[y * w + x] = 40;
  }
  std::vector<BlockFeatures> f;
  const BlockMask mask = detectBlocks(s.data(), w, h, DetectorOptions{}, &f);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_FLOAT_EQ(f[0].bodyFraction, 0.5f);
  EXPECT_FLOAT_EQ(f[0].meanHu, -500.0f);
  EXPECT_FLOAT_EQ(f[0].spreadHu, 500.0f);  // two equal halves 1000 HU apart
  // Two vertical steps of 1000 HU, 16 rows each: x 7→8 inside, x 15→16 to block 1.
  EXPECT_FLOAT_EQ(f[0].edgeHu, (16 * 1000.0f + 16 * 1040.0f) / 256.0f);
  EXPECT_FLOAT_EQ(f[1].bodyFraction, 1.0f);
  EXPECT_FLOAT_EQ(f[1].meanHu, 40.0f);
  EXPECT_FLOAT_EQ(f[1].spreadHu, 0.0f);
  EXPECT_FLOAT_EQ(f[1].edgeHu, 0.0f);
  EXPECT_TRUE(mask.all());
}

TEST(Detector, FeaturesMatchANaiveComputationOnOddSizes) {
  const int w = 500, h = 333;
  std::mt19937_64 engine(17);
  Slice s(static_cast<std::size_t>(w) * h);
  for (auto& v : s) v = static_cast<std::int16_t>(static_cast<int>(engine() % 4096) - 1024);
  std::vector<BlockFeatures> features;
  detectBlocks(s.data(), w, h, DetectorOptions{}, &features);
  const BlockGrid grid(w, h);
  ASSERT_EQ(static_cast<int>(features.size()), grid.blockCount());
  for (int i = 0; i < grid.blockCount(); i += 7) {
    const PixelRect r = grid.pixelRect(grid.blockX(i), grid.blockY(i));
    double n = 0, body = 0, sum = 0, sq = 0, edge = 0;
    for (int y = r.y0; y < r.y1; ++y)
      for (int x = r.x0; x < r.x1; ++x) {
        const double v = s[y * w + x];
        n += 1;
        body += v > -500;
        sum += v;
        sq += v * v;
        if (x + 1 < w) edge += std::abs(s[y * w + x + 1] - v);
        if (y + 1 < h) edge += std::abs(s[(y + 1) * w + x] - v);
      }
    const double mean = sum / n;
    SCOPED_TRACE(i);
    EXPECT_FLOAT_EQ(features[i].bodyFraction, static_cast<float>(body / n));
    EXPECT_NEAR(features[i].meanHu, mean, 1e-3);
    EXPECT_NEAR(features[i].spreadHu, std::sqrt(sq / n - mean * mean), 1e-2);
    EXPECT_NEAR(features[i].edgeHu, edge / n, 1e-2);
  }
}

TEST(Detector, BodyInTheCutCornerBlockCountsItsRealPixelsOnly) {
  const int w = 500, h = 333;
  Slice s = airSlice(w, h, 0.0, 0);
  const BlockGrid grid(w, h);
  const PixelRect corner = grid.pixelRect(31, 20);  // 4 x 13 real pixels
  for (int y = corner.y0; y < corner.y1; ++y)
    for (int x = corner.x0; x < corner.x1; ++x) s[y * w + x] = 30;
  std::vector<BlockFeatures> f;
  DetectorOptions options;
  options.dilation = 0;
  const BlockMask mask = detectBlocks(s.data(), w, h, options, &f);
  EXPECT_FLOAT_EQ(f[grid.index(31, 20)].bodyFraction, 1.0f);
  EXPECT_FLOAT_EQ(f[grid.index(31, 20)].meanHu, 30.0f);
  EXPECT_TRUE(mask.test(31, 20));
  // Its neighbours see the step at their border only: 13 rows of 1030 HU
  // over 208 pixels is 64 HU of edge energy per pixel, under the threshold.
  EXPECT_NEAR(f[grid.index(30, 20)].edgeHu, 13 * 1030.0 / 208.0, 1e-3);
  EXPECT_FALSE(mask.test(30, 20));
  EXPECT_FALSE(mask.test(31, 19));
  EXPECT_EQ(mask.dilated(1).count(), 4);
}

TEST(Detector, TwoAndAHalfDimensionsUnitesTheNeighbours) {
  const int w = 64, h = 64;
  Slice left = airSlice(w, h, 0.0, 0), middle = left, right = left;
  for (int y = 16; y < 32; ++y) {
    for (int x = 0; x < 16; ++x) left[y * w + x] = 40;
    for (int x = 48; x < 64; ++x) right[y * w + x] = 40;
  }
  DetectorOptions options;
  options.dilation = 0;
  const std::int16_t* slices[] = {left.data(), middle.data(), right.data()};
  const BlockMask mask = detectBlocks(slices, w, h, options);
  EXPECT_EQ(mask.activeIndices(), (std::vector<int>{4, 7}));
  EXPECT_TRUE(detectBlocks(middle.data(), w, h, options).none());
  options.dilation = 1;
  BlockMask expected = detectBlocks(left.data(), w, h, options);
  expected |= detectBlocks(right.data(), w, h, options);
  EXPECT_EQ(detectBlocks(slices, w, h, options), expected);
}

TEST(Detector, PaddingOutsideTheScanCircleCountsAsAir) {
  // Scanners store -3024 (or -2048) outside the reconstructed circle.
  const int w = 64, h = 64;
  Slice s(w * h, -3024);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (std::hypot(x - 31.5, y - 31.5) < 30) s[y * w + x] = -1000;
  std::vector<BlockFeatures> f;
  EXPECT_TRUE(detectBlocks(s.data(), w, h, DetectorOptions{}, &f).none());
  for (const BlockFeatures& b : f) {
    EXPECT_GE(b.meanHu, -1024.0f);
    EXPECT_LE(b.meanHu, -1000.0f);
    EXPECT_LE(b.spreadHu, 12.0f);  // -1024 vs -1000 at most, not -3024 vs -1000
  }
}

TEST(Detector, FullSliceOfTissueActivatesEverything) {
  Slice s(64 * 48, 45);
  const BlockMask mask = detectBlocks(s.data(), 64, 48);
  EXPECT_TRUE(mask.all());
  EXPECT_EQ(mask.count(), 4 * 3);
}

}  // namespace
}  // namespace tessera
