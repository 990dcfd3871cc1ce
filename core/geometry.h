// Voxel grid geometry in ITK's convention and frame: LPS patient
// coordinates in millimetres, origin at the centre of voxel (0,0,0),
// direction cosines as the columns of a 3×3 matrix. Conversions to other
// frames (RAS for NIfTI sform/qform, meshes) happen once, at the edges.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace tessera {

using Vec3 = std::array<double, 3>;
using Mat3 = std::array<double, 9>;  // row-major; element (r, c) at [3 * r + c]

struct Geometry {
  std::array<std::int64_t, 3> size{0, 0, 0};  // voxels along i (x), j (y), k (z, slices)
  Vec3 spacingMm{1.0, 1.0, 1.0};
  Vec3 originMm{0.0, 0.0, 0.0};               // LPS mm of voxel (0,0,0)'s centre
  Mat3 direction{1, 0, 0, 0, 1, 0, 0, 0, 1};  // column c: LPS unit vector of axis c

  std::int64_t voxelCount() const { return size[0] * size[1] * size[2]; }
  std::int64_t sliceVoxelCount() const { return size[0] * size[1]; }
  double voxelVolumeMm3() const { return spacingMm[0] * spacingMm[1] * spacingMm[2]; }

  // LPS mm of a (possibly fractional) voxel index.
  Vec3 worldFromVoxel(const Vec3& ijk) const;
  // Inverse of worldFromVoxel (direction is orthonormal, so its transpose).
  Vec3 voxelFromWorld(const Vec3& lpsMm) const;
};

// Sizes positive, spacing positive and finite, direction orthonormal.
Status validateGeometry(const Geometry& geometry);

// Same size; spacing, origin within toleranceMm; direction within 1e-6.
bool sameGeometry(const Geometry& a, const Geometry& b, double toleranceMm = 1e-4);

// Letters each voxel axis points towards in the patient, nibabel-style
// ("LPS" for ITK's identity direction, "RAS" for the NIfTI-typical one).
// Oblique axes take the closest letter.
std::string orientationCode(const Mat3& direction);

std::string describeGeometry(const Geometry& geometry);

Mat3 multiply(const Mat3& a, const Mat3& b);
Mat3 transpose(const Mat3& m);
double determinant(const Mat3& m);

}  // namespace tessera
