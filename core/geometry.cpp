#include "core/geometry.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace tessera {

Vec3 Geometry::worldFromVoxel(const Vec3& ijk) const {
  Vec3 out = originMm;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) out[r] += direction[3 * r + c] * spacingMm[c] * ijk[c];
  return out;
}

Vec3 Geometry::voxelFromWorld(const Vec3& lpsMm) const {
  Vec3 delta{lpsMm[0] - originMm[0], lpsMm[1] - originMm[1], lpsMm[2] - originMm[2]};
  Vec3 out{0, 0, 0};
  for (int c = 0; c < 3; ++c) {
    double sum = 0;
    for (int r = 0; r < 3; ++r) sum += direction[3 * r + c] * delta[r];
    out[c] = sum / spacingMm[c];
  }
  return out;
}

Status validateGeometry(const Geometry& g) {
  for (int a = 0; a < 3; ++a) {
    if (g.size[a] <= 0) return Status(StatusCode::kInvalidArgument, "image has an empty dimension");
    if (!(g.spacingMm[a] > 0.0) || !std::isfinite(g.spacingMm[a]))
      return Status(StatusCode::kCorruptData, "voxel spacing must be positive and finite");
    if (!std::isfinite(g.originMm[a]))
      return Status(StatusCode::kCorruptData, "image origin is not finite");
  }
  const Mat3 product = multiply(transpose(g.direction), g.direction);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      if (!(std::abs(product[3 * r + c] - (r == c ? 1.0 : 0.0)) < 1e-4))
        return Status(StatusCode::kCorruptData, "image direction cosines are not orthonormal");
  return Status();
}

bool sameGeometry(const Geometry& a, const Geometry& b, double toleranceMm) {
  if (a.size != b.size) return false;
  for (int i = 0; i < 3; ++i) {
    if (std::abs(a.spacingMm[i] - b.spacingMm[i]) > toleranceMm) return false;
    if (std::abs(a.originMm[i] - b.originMm[i]) > toleranceMm) return false;
  }
  for (int i = 0; i < 9; ++i)
    if (std::abs(a.direction[i] - b.direction[i]) > 1e-6) return false;
  return true;
}

std::string orientationCode(const Mat3& d) {
  static const char kPositive[3] = {'L', 'P', 'S'};
  static const char kNegative[3] = {'R', 'A', 'I'};
  std::string code(3, '?');
  for (int c = 0; c < 3; ++c) {
    int best = 0;
    for (int r = 1; r < 3; ++r)
      if (std::abs(d[3 * r + c]) > std::abs(d[3 * best + c])) best = r;
    code[c] = d[3 * best + c] >= 0 ? kPositive[best] : kNegative[best];
  }
  return code;
}

std::string describeGeometry(const Geometry& g) {
  std::ostringstream out;
  char buffer[256];
  std::snprintf(buffer, sizeof buffer,
                "size %lld x %lld x %lld voxels, spacing %.4g x %.4g x %.4g mm, origin (%.3f, "
                "%.3f, %.3f) mm LPS, orientation %s",
                static_cast<long long>(g.size[0]), static_cast<long long>(g.size[1]),
                static_cast<long long>(g.size[2]), g.spacingMm[0], g.spacingMm[1], g.spacingMm[2],
                g.originMm[0], g.originMm[1], g.originMm[2], orientationCode(g.direction).c_str());
  out << buffer;
  return out.str();
}

Mat3 multiply(const Mat3& a, const Mat3& b) {
  Mat3 out{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 3; ++k) out[3 * r + c] += a[3 * r + k] * b[3 * k + c];
  return out;
}

Mat3 transpose(const Mat3& m) {
  return {m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]};
}

double determinant(const Mat3& m) {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
         m[2] * (m[3] * m[7] - m[4] * m[6]);
}

}  // namespace tessera
