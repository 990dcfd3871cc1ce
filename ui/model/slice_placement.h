// Where a 2D slice of labels belongs in a volume's voxel array. The engine
// segments in the canonical voxel order (i → left, j → posterior, k →
// superior); a volume stored in any other order (coronal acquisitions,
// flipped axes) receives each canonical slice as a plane through its own
// array, which signed strides describe exactly. Toolkit-free.
#pragma once

#include <array>
#include <cstdint>

namespace tessera::ui {

// Label (u, v) of the slice, u < width varying fastest, lands on the voxel
// with linear index (x fastest) firstVoxel + u·uStride + v·vStride.
struct SlicePlacement {
  std::int64_t firstVoxel = 0;
  std::int64_t uStride = 1;
  std::int64_t vStride = 0;
  std::int64_t width = 0;
  std::int64_t height = 0;

  // Axial slice k of a volume of `size`, in storage order.
  static SlicePlacement axial(const std::array<std::int64_t, 3>& size, std::int64_t k) {
    return {k * size[0] * size[1], 1, size[0], size[0], size[1]};
  }
  std::int64_t voxelIndex(std::int64_t u, std::int64_t v) const {
    return firstVoxel + u * uStride + v * vStride;
  }
  std::int64_t count() const { return width * height; }
  // Whether every voxel it names lies inside a volume of `size` (an index
  // linear in u and v is extreme at the corners).
  bool fits(const std::array<std::int64_t, 3>& size) const {
    if (width <= 0 || height <= 0) return false;
    const std::int64_t total = size[0] * size[1] * size[2];
    for (std::int64_t u : {std::int64_t{0}, width - 1})
      for (std::int64_t v : {std::int64_t{0}, height - 1}) {
        const std::int64_t i = voxelIndex(u, v);
        if (i < 0 || i >= total) return false;
      }
    return true;
  }
};

}  // namespace tessera::ui
