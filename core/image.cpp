#include "core/image.h"

#include <algorithm>
#include <limits>

#include <string>
#include "core/memory_budget.h"

namespace tessera {

std::int64_t maxImageBytes() {
  return jobMemoryBudget().limitBytes();
}

Status checkAllocatable(const Geometry& geometry, std::int64_t bytesPerVoxel) {
  std::int64_t voxels = 1;
  for (int a = 0; a < 3; ++a) {
    if (geometry.size[a] <= 0)
      return Status(StatusCode::kInvalidArgument, "image has an empty dimension");
    if (voxels > std::numeric_limits<std::int64_t>::max() / geometry.size[a])
      return Status(StatusCode::kResourceExhausted, "image dimensions overflow");
    voxels *= geometry.size[a];
  }
  return jobMemoryBudget().check(checkedBytes({voxels, bytesPerVoxel}),
                                 "an image of " + std::to_string(geometry.size[0]) + " x " +
                                     std::to_string(geometry.size[1]) + " x " +
                                     std::to_string(geometry.size[2]) + " voxels");
}

}  // namespace tessera
