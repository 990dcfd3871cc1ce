// Small synthetic CT studies for the workstation tests: a water-filled body
// cylinder in air with spheres of known HU and label, on any geometry.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/image.h"

namespace tessera::ui::testing {

struct Sphere {
  Vec3 centreVoxel;  // continuous voxel index
  double radiusMm;
  std::int16_t hu;
  std::uint8_t label;
};

struct SyntheticStudy {
  Volume ct;
  LabelMap labels;
  std::vector<Sphere> spheres;
};

constexpr std::int16_t kAirHu = -1000;
constexpr std::int16_t kBodyHu = 40;
constexpr std::uint8_t kBodyLabel = 1;  // soft tissue

// 64×64×32 voxels of 0.8 × 0.8 × 2.5 mm by default. Body: a cylinder along
// the slice axis, radius 22 mm around the slice centre. Spheres: liver (5,
// HU 60) radius 9 mm at voxel (40, 28, 16), kidney (7, HU 160) radius 6 mm at
// voxel (20, 38, 12). Distances are measured in mm with the voxel spacing.
Geometry defaultGeometry();
SyntheticStudy makeStudy(const Geometry& geometry = defaultGeometry());

// Geometry with a signed axis permutation as direction: axis c of the volume
// points along LPS axis permutation[c] with sign signs[c].
Geometry permutedGeometry(const std::array<int, 3>& permutation, const std::array<int, 3>& signs);

// A fresh empty directory under the system's temporary directory.
std::string makeTempDir(const std::string& name);

}  // namespace tessera::ui::testing
