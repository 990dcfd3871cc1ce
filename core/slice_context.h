// The 2.5D input of the network: a slice and its neighbours as channels. One
// builder for inference and training, so that both see the same context at
// the ends of a volume.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/image.h"

namespace tessera {

// Pointers to slices k − radius … k + radius of `volume` (2·radius + 1 of
// them, neighbours first to last, slice k in the middle); beyond the
// volume's ends the first or last slice repeats. The pointers borrow the
// volume's storage.
template <class T>
std::vector<const T*> sliceContext(const Image<T>& volume, std::int64_t k, int radius) {
  std::vector<const T*> context;
  context.reserve(static_cast<std::size_t>(2 * radius + 1));
  for (int d = -radius; d <= radius; ++d)
    context.push_back(volume.slice(std::clamp<std::int64_t>(k + d, 0, volume.nz() - 1)));
  return context;
}

}  // namespace tessera
