// The canonical voxel order Tessera's models are trained and run in (i →
// patient left, j → posterior, k → superior: ITK's LPS identity), and how
// any volume maps onto it. Pure geometry: the engine reorients a volume once
// before segmenting; the pipeline and the workstation use the same mapping to
// place results back into the input's own voxel order.
#pragma once

#include <array>
#include <cstdint>

#include "core/geometry.h"
#include "core/image.h"
#include "core/image_view.h"

namespace tessera {

// Axis permutation and flips that bring a volume to the canonical order:
// canonical axis c runs along input axis perm[c], backwards when flip[c].
struct Reorientation {
  std::array<int, 3> perm{0, 1, 2};
  std::array<bool, 3> flip{false, false, false};
  bool identity() const {
    return perm == std::array<int, 3>{0, 1, 2} && !flip[0] && !flip[1] && !flip[2];
  }
};

// Pairs world and voxel axes by decreasing |cosine|, so oblique volumes still
// get a permutation.
Reorientation canonicalReorientation(const Geometry& geometry);

// The same voxels in canonical order, with the geometry describing them.
template <class T>
Image<T> reorient(ImageView<T> image, const Reorientation& r);
template <class T>
Image<T> reorient(const Image<T>& image, const Reorientation& r) {
  return reorient(ImageView<T>(image), r);
}
// Puts canonical-order voxels back into the original order and geometry.
template <class T>
Image<T> reorientBack(const Image<T>& canonical, const Reorientation& r, const Geometry& original);

// Where a 2D slice belongs in a volume's voxel array: pixel (u, v) of the
// slice, u < width varying fastest, is the voxel with linear index (x
// fastest) firstVoxel + u·uStride + v·vStride. A canonical slice of a volume
// stored in any other order (coronal acquisitions, flipped axes) is a plane
// through that volume's array, which signed strides describe exactly.
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
  bool fits(const std::array<std::int64_t, 3>& size) const;
};

// Where canonical slice k lies in a volume of `geometry`.
SlicePlacement canonicalSlicePlacement(const Geometry& geometry, std::int64_t k);

}  // namespace tessera
