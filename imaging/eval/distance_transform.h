// Exact Euclidean distance transform with anisotropic spacing, separable
// (Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions",
// 2012): one lower-envelope-of-parabolas pass per axis, O(voxels) overall,
// parallel over the lines of each pass.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/geometry.h"
#include "core/memory.h"

namespace tessera::imaging {

using DistanceBuffer = std::vector<float, TrackedAllocator<float>>;

// Squared distance in mm² from each voxel centre to the nearest voxel centre
// where `feature` is nonzero; +infinity everywhere when there is none.
// `feature` holds size[0] × size[1] × size[2] bytes, x fastest, like Image.
DistanceBuffer squaredDistanceTransform(const std::uint8_t* feature,
                                        const std::array<std::int64_t, 3>& size,
                                        const Vec3& spacingMm);

}  // namespace tessera::imaging
