#include "core/geometry.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tessera {
namespace {

Geometry obliqueGeometry() {
  Geometry g;
  g.size = {10, 20, 30};
  g.spacingMm = {0.7, 0.8, 2.5};
  g.originMm = {-100.0, 50.0, 12.5};
  const double c = std::cos(0.3), s = std::sin(0.3);
  g.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
  return g;
}

TEST(Geometry, WorldAndVoxelAreInverse) {
  const Geometry g = obliqueGeometry();
  const Vec3 ijk{3.5, 7.0, 11.25};
  const Vec3 world = g.worldFromVoxel(ijk);
  const Vec3 back = g.voxelFromWorld(world);
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(back[a], ijk[a], 1e-9);
}

TEST(Geometry, OriginIsVoxelZero) {
  const Geometry g = obliqueGeometry();
  const Vec3 w = g.worldFromVoxel({0, 0, 0});
  for (int a = 0; a < 3; ++a) EXPECT_DOUBLE_EQ(w[a], g.originMm[a]);
  const Vec3 step = g.worldFromVoxel({0, 0, 1});
  EXPECT_NEAR(step[2] - g.originMm[2], 2.5, 1e-12);
}

TEST(Geometry, ValidationRejectsBadSpacingAndDirection) {
  Geometry g = obliqueGeometry();
  EXPECT_TRUE(validateGeometry(g).ok());
  g.spacingMm[1] = 0.0;
  EXPECT_EQ(validateGeometry(g).code(), StatusCode::kCorruptData);
  g = obliqueGeometry();
  g.direction = {1, 0, 0, 1, 0, 0, 0, 0, 1};
  EXPECT_EQ(validateGeometry(g).code(), StatusCode::kCorruptData);
  g = obliqueGeometry();
  g.size[2] = 0;
  EXPECT_FALSE(validateGeometry(g).ok());
}

TEST(Geometry, OrientationCodes) {
  EXPECT_EQ(orientationCode({1, 0, 0, 0, 1, 0, 0, 0, 1}), "LPS");
  EXPECT_EQ(orientationCode({-1, 0, 0, 0, -1, 0, 0, 0, 1}), "RAS");
  EXPECT_EQ(orientationCode({0, 0, 1, 1, 0, 0, 0, -1, 0}), "PIL");
}

TEST(Geometry, SameGeometryUsesTolerance) {
  Geometry a = obliqueGeometry();
  Geometry b = a;
  b.originMm[0] += 5e-5;
  EXPECT_TRUE(sameGeometry(a, b));
  b.originMm[0] += 1e-3;
  EXPECT_FALSE(sameGeometry(a, b));
  b = a;
  b.size[0] += 1;
  EXPECT_FALSE(sameGeometry(a, b));
}

TEST(Geometry, MatrixHelpers) {
  const Mat3 r = obliqueGeometry().direction;
  EXPECT_NEAR(determinant(r), 1.0, 1e-12);
  const Mat3 identity = multiply(transpose(r), r);
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(identity[i], (i % 4 == 0) ? 1.0 : 0.0, 1e-12);
}

}  // namespace
}  // namespace tessera
