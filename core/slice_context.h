// The 2.5D input of the network: a slice and its neighbours as channels. One
// builder for inference and training, so that both see the same context at
// the ends of a volume and at any slice spacing.
#pragma once

#include <algorithm>
#include <cmath>
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

// The context at fixed physical offsets: neighbour d (−radius … radius) is
// the volume at d · offsetMm from slice k along z, interpolated linearly
// between the two nearest slices (HU rounded to the voxel type) and clamped
// to the first and last slice, so that what the network sees does not
// depend on the slice spacing. offsetMm <= 0 means neighbours by index
// (sliceContext). A neighbour that falls on a slice (within 0.1 % of the
// spacing) is that slice itself, so a volume whose spacing is the offset
// gives exactly sliceContext's input.
//
// Owns the interpolated planes: the pointers of at() stay valid until the
// next call. One per thread.
template <class T>
class PhysicalSliceContext {
 public:
  PhysicalSliceContext(int radius, double offsetMm) : radius_(radius), offsetMm_(offsetMm) {}

  template <class V>
  const std::vector<const T*>& at(const V& volume, std::int64_t k) {
    const double spacing = volume.geometry().spacingMm[2];
    if (!(offsetMm_ > 0) || !(spacing > 0)) {
      context_ = sliceContext(volume, k, radius_);
      return context_;
    }
    const std::size_t plane = static_cast<std::size_t>(volume.nx() * volume.ny());
    const std::int64_t last = volume.nz() - 1;
    planes_.resize(static_cast<std::size_t>(2 * radius_ + 1));
    context_.clear();
    for (int d = -radius_; d <= radius_; ++d) {
      const double position = std::clamp(static_cast<double>(k) + d * offsetMm_ / spacing, 0.0,
                                         static_cast<double>(last));
      const double below = std::floor(position);
      const double t = position - below;
      const auto k0 = static_cast<std::int64_t>(below);
      if (t < 1e-3 || t > 1 - 1e-3 || k0 >= last) {
        context_.push_back(volume.slice(std::min(last, t > 0.5 ? k0 + 1 : k0)));
        continue;
      }
      std::vector<T>& out = planes_[static_cast<std::size_t>(d + radius_)];
      out.resize(plane);
      const T* a = volume.slice(k0);
      const T* b = volume.slice(k0 + 1);
      const float wa = static_cast<float>(1 - t), wb = static_cast<float>(t);
      for (std::size_t p = 0; p < plane; ++p)
        out[p] = static_cast<T>(
            std::lround(wa * static_cast<float>(a[p]) + wb * static_cast<float>(b[p])));
      context_.push_back(out.data());
    }
    return context_;
  }

 private:
  int radius_;
  double offsetMm_;
  std::vector<std::vector<T>> planes_;
  std::vector<const T*> context_;
};

}  // namespace tessera
