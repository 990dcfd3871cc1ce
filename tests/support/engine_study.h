// A small phantom and a small random-weight model for the tests that run the
// real engine: fast enough for every test run, real enough that labels,
// block maps and orientations go through the same code as a full study.
#pragma once

#include <array>
#include <string>

#include "core/image.h"
#include "imaging/phantom/phantom.h"

namespace tessera::ui::testing {

// A torso phantom of 128×128 pixels and `slices` slices of 2.5 mm through
// the upper abdomen (LPS identity direction), the body in about a third of
// the 16×16 blocks.
imaging::Phantom makeSmallPhantom(int slices = 8, std::uint64_t seed = 7);

// Writes a random-weight model (2.5D input of 3 slices, base width 16, 2
// levels, 2 attention heads, the 10 labels of the default table, deep
// supervision heads) as ONNX to `path`. Its labels vary from voxel to voxel.
void writeSmallModel(const std::string& path, std::uint64_t seed = 5);

// The same network with output heads that ignore their input and favour
// `label` by a wide margin: the engine then labels exactly the blocks it
// computes with `label` (background elsewhere). Predictable pictures, and
// surfaces that take no time to build.
void writeConstantModel(const std::string& path, std::uint8_t label);

// The same voxels stored in another order: voxel axis c of the result runs
// along LPS axis permutation[c], forwards when signs[c] > 0. The world
// position of every voxel is unchanged (identity direction in).
template <class T>
Image<T> restore(const Image<T>& image, const std::array<int, 3>& permutation,
                 const std::array<int, 3>& signs) {
  const Geometry& in = image.geometry();
  Geometry g;
  Vec3 corner{};
  for (int c = 0; c < 3; ++c) {
    const int axis = permutation[c];
    g.size[c] = in.size[axis];
    g.spacingMm[c] = in.spacingMm[axis];
    corner[axis] = signs[c] > 0 ? 0.0 : static_cast<double>(in.size[axis] - 1);
  }
  Mat3 d{};
  for (int c = 0; c < 3; ++c) d[3 * permutation[c] + c] = signs[c] > 0 ? 1.0 : -1.0;
  g.direction = d;
  g.originMm = in.worldFromVoxel(corner);
  Image<T> out = std::move(*Image<T>::create(g));
  for (std::int64_t n2 = 0; n2 < g.size[2]; ++n2)
    for (std::int64_t n1 = 0; n1 < g.size[1]; ++n1)
      for (std::int64_t n0 = 0; n0 < g.size[0]; ++n0) {
        const std::int64_t n[3] = {n0, n1, n2};
        std::int64_t o[3];
        for (int c = 0; c < 3; ++c) {
          const int axis = permutation[c];
          o[axis] = signs[c] > 0 ? n[c] : in.size[axis] - 1 - n[c];
        }
        out.at(n0, n1, n2) = image.at(o[0], o[1], o[2]);
      }
  return out;
}

}  // namespace tessera::ui::testing
