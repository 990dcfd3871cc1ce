#include "core/reorient.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/slice_context.h"

namespace tessera {
namespace {

Volume randomVolume(std::array<std::int64_t, 3> size, std::uint64_t seed) {
  Geometry g;
  g.size = size;
  g.spacingMm = {0.8, 0.9, 2.0};
  g.originMm = {-10, 20, 30};
  Volume v = std::move(*Volume::create(g));
  std::mt19937_64 rng(seed);
  for (std::int64_t i = 0; i < v.voxelCount(); ++i)
    v.data()[i] = static_cast<std::int16_t>(static_cast<int>(rng() % 2000) - 1000);
  return v;
}

TEST(Reorientation, EveryAxisPermutationAndFlipRoundTrips) {
  const Volume v = randomVolume({5, 4, 3}, 1);
  const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (const auto& p : perms)
    for (int flips = 0; flips < 8; ++flips) {
      Volume in = v;
      Mat3 d{};
      for (int a = 0; a < 3; ++a) d[3 * p[a] + a] = (flips >> a) & 1 ? -1.0 : 1.0;
      in.geometry().direction = d;
      const Reorientation r = canonicalReorientation(in.geometry());
      const Volume canonical = reorient(in, r);
      EXPECT_EQ(orientationCode(canonical.geometry().direction), "LPS");
      // A voxel keeps its world position.
      const Vec3 w0 = in.geometry().worldFromVoxel({1, 2, 1});
      const Vec3 ci = canonical.geometry().voxelFromWorld(w0);
      const auto round = [](double x) { return static_cast<std::int64_t>(std::lround(x)); };
      EXPECT_EQ(canonical.at(round(ci[0]), round(ci[1]), round(ci[2])), in.at(1, 2, 1));
      const Volume back = reorientBack(canonical, r, in.geometry());
      EXPECT_TRUE(sameGeometry(back.geometry(), in.geometry()));
      EXPECT_TRUE(std::equal(in.data(), in.data() + in.voxelCount(), back.data()));
    }
}

TEST(CanonicalSlicePlacement, PutsEveryCanonicalSliceBackForAllOrientations) {
  Geometry g;
  g.size = {5, 4, 3};
  g.spacingMm = {0.7, 0.8, 2.0};
  Image<std::uint8_t> original = std::move(*Image<std::uint8_t>::create(g));
  for (std::int64_t i = 0; i < original.voxelCount(); ++i)
    original.data()[i] = static_cast<std::uint8_t>(i);
  const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (const auto& p : perms)
    for (int flips = 0; flips < 8; ++flips) {
      Mat3 d{};
      for (int a = 0; a < 3; ++a) d[3 * p[a] + a] = (flips >> a) & 1 ? -1.0 : 1.0;
      original.geometry().direction = d;
      // The engine's view of the volume.
      const auto r = canonicalReorientation(original.geometry());
      const Image<std::uint8_t> canonical = reorient(original, r);
      std::vector<std::uint8_t> back(static_cast<std::size_t>(original.voxelCount()), 255);
      for (std::int64_t k = 0; k < canonical.nz(); ++k) {
        const SlicePlacement where = canonicalSlicePlacement(original.geometry(), k);
        ASSERT_TRUE(where.fits(original.geometry().size));
        ASSERT_EQ(where.width, canonical.nx());
        ASSERT_EQ(where.height, canonical.ny());
        for (std::int64_t v = 0; v < where.height; ++v)
          for (std::int64_t u = 0; u < where.width; ++u)
            back[static_cast<std::size_t>(where.voxelIndex(u, v))] = canonical.at(u, v, k);
      }
      EXPECT_TRUE(std::equal(back.begin(), back.end(), original.data()))
          << "permutation " << p[0] << p[1] << p[2] << " flips " << flips;
    }
}

TEST(SlicePlacement, FitsOnlyInsideTheVolume) {
  const std::array<std::int64_t, 3> size{4, 3, 2};
  EXPECT_TRUE(SlicePlacement::axial(size, 1).fits(size));
  EXPECT_FALSE(SlicePlacement::axial(size, 2).fits(size));
  SlicePlacement backwards{11, -1, -4, 4, 3};  // slice 0, both in-plane axes flipped
  EXPECT_TRUE(backwards.fits(size));
  backwards.firstVoxel = 10;
  EXPECT_FALSE(backwards.fits(size));
  EXPECT_FALSE((SlicePlacement{0, 1, 4, 0, 3}.fits(size))) << "empty";
}

TEST(SliceContext, ClampsAtTheEndsOfTheVolume) {
  const Volume v = randomVolume({3, 2, 4}, 3);
  for (int radius : {0, 1, 2})
    for (std::int64_t k = 0; k < v.nz(); ++k) {
      const std::vector<const std::int16_t*> context = sliceContext(v, k, radius);
      ASSERT_EQ(context.size(), static_cast<std::size_t>(2 * radius + 1));
      for (int d = -radius; d <= radius; ++d) {
        const std::int64_t expected = std::clamp<std::int64_t>(k + d, 0, v.nz() - 1);
        EXPECT_EQ(context[static_cast<std::size_t>(d + radius)], v.slice(expected))
            << "radius " << radius << " slice " << k << " offset " << d;
      }
    }
}

}  // namespace
}  // namespace tessera
