// Every one of the 48 signed axis permutations (the orientations a scanner or
// a reformatting tool can produce along the patient axes) must survive a
// write/read round trip in every file format without a flip: same geometry,
// same voxels, and a marker voxel at the same world position.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "imaging/io/volume_io.h"
#include "tests/support/temp_dir.h"

namespace tessera::imaging {
namespace {

std::vector<Mat3> signedPermutations() {
  std::vector<Mat3> out;
  std::array<int, 3> perm{0, 1, 2};
  do {
    for (int signs = 0; signs < 8; ++signs) {
      Mat3 m{};
      for (int c = 0; c < 3; ++c) m[3 * perm[c] + c] = (signs >> c) & 1 ? -1.0 : 1.0;
      out.push_back(m);
    }
  } while (std::next_permutation(perm.begin(), perm.end()));
  return out;
}

TEST(Orientations, ThereAre48DistinctSignedPermutations) {
  const auto all = signedPermutations();
  ASSERT_EQ(all.size(), 48u);
  for (std::size_t a = 0; a < all.size(); ++a) {
    EXPECT_NEAR(std::abs(determinant(all[a])), 1.0, 1e-12);
    for (std::size_t b = a + 1; b < all.size(); ++b) EXPECT_NE(all[a], all[b]);
  }
}

TEST(Orientations, All48RoundTripInEveryFormatWithoutAFlip) {
  tessera::testing::TempDir dir;
  const auto all = signedPermutations();
  constexpr std::int16_t kMarker = 3000;
  const Vec3 markerIndex{1, 2, 0};
  int failures = 0;
  for (const char* ext : {".nii.gz", ".nii", ".nrrd", ".mha"}) {
    for (std::size_t p = 0; p < all.size(); ++p) {
      Geometry g;
      g.size = {5, 4, 3};
      g.spacingMm = {0.7, 1.3, 2.1};
      g.originMm = {12.5, -30.25, 7.75};
      g.direction = all[p];
      Volume original = *Volume::create(g);
      for (std::int64_t k = 0; k < 3; ++k)
        for (std::int64_t j = 0; j < 4; ++j)
          for (std::int64_t i = 0; i < 5; ++i)
            original.at(i, j, k) = static_cast<std::int16_t>(i + 10 * j + 100 * k - 500);
      original.at(1, 2, 0) = kMarker;
      const std::string path = dir / ("o" + std::to_string(p) + ext);
      SCOPED_TRACE(path + " " + orientationCode(g.direction));
      ASSERT_TRUE(writeVolume(original, path).ok());
      auto back = readVolume(path);
      ASSERT_TRUE(back.ok()) << back.error().toString();
      const bool geometryOk = sameGeometry(back->geometry(), g, 1e-4);
      const bool voxelsOk =
          back->voxelCount() == original.voxelCount() &&
          std::equal(original.data(), original.data() + original.voxelCount(), back->data());
      const auto* found = std::find(back->data(), back->data() + back->voxelCount(), kMarker);
      ASSERT_NE(found, back->data() + back->voxelCount());
      const std::int64_t index = found - back->data();
      const Vec3 foundIndex{static_cast<double>(index % 5), static_cast<double>(index / 5 % 4),
                            static_cast<double>(index / 20)};
      const Vec3 a = g.worldFromVoxel(markerIndex);
      const Vec3 b = back->geometry().worldFromVoxel(foundIndex);
      const double distance =
          std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                    (a[2] - b[2]) * (a[2] - b[2]));
      EXPECT_TRUE(geometryOk) << describeGeometry(back->geometry());
      EXPECT_TRUE(voxelsOk);
      EXPECT_LT(distance, 1e-4);
      failures += !(geometryOk && voxelsOk && distance < 1e-4);
    }
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace tessera::imaging
