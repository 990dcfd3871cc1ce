#include "tests/support/synthetic_study.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>

namespace tessera::ui::testing {

Geometry defaultGeometry() {
  Geometry g;
  g.size = {64, 64, 32};
  g.spacingMm = {0.8, 0.8, 2.5};
  g.originMm = {-25.2, -30.0, 100.0};
  return g;
}

SyntheticStudy makeStudy(const Geometry& geometry) {
  SyntheticStudy study;
  study.ct = *Volume::create(geometry, kAirHu);
  study.labels.labels = *Image<std::uint8_t>::create(geometry, 0);
  study.labels.table = defaultLabelTable();
  study.spheres = {{{40, 28, 16}, 9.0, 60, 5}, {{20, 38, 12}, 6.0, 160, 7}};
  const Vec3& sp = geometry.spacingMm;
  const double cx = (geometry.size[0] - 1) / 2.0, cy = (geometry.size[1] - 1) / 2.0;
  for (std::int64_t k = 0; k < geometry.size[2]; ++k)
    for (std::int64_t j = 0; j < geometry.size[1]; ++j)
      for (std::int64_t i = 0; i < geometry.size[0]; ++i) {
        const double bx = (i - cx) * sp[0], by = (j - cy) * sp[1];
        if (bx * bx + by * by > 22.0 * 22.0) continue;
        std::int16_t hu = kBodyHu;
        std::uint8_t label = kBodyLabel;
        for (const Sphere& s : study.spheres) {
          const double dx = (i - s.centreVoxel[0]) * sp[0], dy = (j - s.centreVoxel[1]) * sp[1],
                       dz = (k - s.centreVoxel[2]) * sp[2];
          if (dx * dx + dy * dy + dz * dz <= s.radiusMm * s.radiusMm) {
            hu = s.hu;
            label = s.label;
          }
        }
        study.ct.at(i, j, k) = hu;
        study.labels.labels.at(i, j, k) = label;
      }
  return study;
}

Geometry permutedGeometry(const std::array<int, 3>& permutation, const std::array<int, 3>& signs) {
  Geometry g = defaultGeometry();
  Mat3 d{};
  for (int c = 0; c < 3; ++c) d[3 * permutation[c] + c] = signs[c];
  g.direction = d;
  return g;
}

std::string makeTempDir(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("tessera_ui_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

}  // namespace tessera::ui::testing
