#include "core/image.h"

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <string>

namespace tessera {

std::int64_t maxImageBytes() {
  constexpr std::int64_t kHardCap = std::int64_t{64} << 30;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long pageSize = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || pageSize <= 0) return kHardCap;
  return std::min(kHardCap, static_cast<std::int64_t>(pages) * pageSize);
}

Status checkAllocatable(const Geometry& geometry, std::int64_t bytesPerVoxel) {
  const std::int64_t limit = maxImageBytes();
  std::int64_t voxels = 1;
  for (int a = 0; a < 3; ++a) {
    if (geometry.size[a] <= 0)
      return Status(StatusCode::kInvalidArgument, "image has an empty dimension");
    if (voxels > std::numeric_limits<std::int64_t>::max() / geometry.size[a])
      return Status(StatusCode::kResourceExhausted, "image dimensions overflow");
    voxels *= geometry.size[a];
  }
  if (voxels > limit / bytesPerVoxel) {
    return Status(StatusCode::kResourceExhausted,
                  "image of " + std::to_string(geometry.size[0]) + " x " +
                      std::to_string(geometry.size[1]) + " x " + std::to_string(geometry.size[2]) +
                      " voxels needs " + std::to_string(voxels * bytesPerVoxel >> 20) +
                      " MiB, more than this machine can hold (" + std::to_string(limit >> 20) +
                      " MiB)");
  }
  return Status();
}

}  // namespace tessera
