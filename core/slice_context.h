// The 2.5D input of the network: a slice and its neighbours as channels. One
// builder for inference and training, so that both see the same context at
// the ends of a volume.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/image.h"
#include "core/image_view.h"

namespace tessera {

// Pointers to slices k − radius … k + radius of `volume` (an Image or an
// ImageView; 2·radius + 1 of them, neighbours first to last, slice k in the
// middle); beyond the volume's ends the first or last slice repeats. The
// pointers borrow the volume's storage.
template <class V>
std::vector<const typename V::Voxel*> sliceContext(const V& volume, std::int64_t k, int radius) {
  std::vector<const typename V::Voxel*> context;
  context.reserve(static_cast<std::size_t>(2 * radius + 1));
  for (int d = -radius; d <= radius; ++d)
    context.push_back(volume.slice(std::clamp<std::int64_t>(k + d, 0, volume.nz() - 1)));
  return context;
}

}  // namespace tessera
