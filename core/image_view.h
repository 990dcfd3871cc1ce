// A read-only view of voxels someone else owns, with an Image's geometry
// and accessors: how the engine reads a CT it was handed (an SDK caller's
// NumPy array or buffer) without copying it. Image<T> converts to it
// implicitly. The view owns nothing: the voxels must outlive it.
#pragma once

#include <cstdint>

#include "core/geometry.h"
#include "core/image.h"

namespace tessera {

template <class T>
class ImageView {
 public:
  using Voxel = T;

  ImageView() = default;
  // `data` holds geometry.voxelCount() voxels, x fastest.
  ImageView(const T* data, const Geometry& geometry) : data_(data), geometry_(geometry) {}
  ImageView(const Image<T>& image) : data_(image.data()), geometry_(image.geometry()) {}

  const Geometry& geometry() const { return geometry_; }
  bool empty() const { return data_ == nullptr || geometry_.voxelCount() == 0; }
  std::int64_t nx() const { return geometry_.size[0]; }
  std::int64_t ny() const { return geometry_.size[1]; }
  std::int64_t nz() const { return geometry_.size[2]; }
  std::int64_t voxelCount() const { return empty() ? 0 : geometry_.voxelCount(); }
  const T* data() const { return data_; }
  std::int64_t index(std::int64_t i, std::int64_t j, std::int64_t k) const {
    return i + nx() * (j + ny() * k);
  }
  const T& at(std::int64_t i, std::int64_t j, std::int64_t k) const {
    return data_[index(i, j, k)];
  }
  // Pointer to the first voxel of axial slice k (nx * ny voxels).
  const T* slice(std::int64_t k) const { return data_ + nx() * ny() * k; }

 private:
  const T* data_ = nullptr;
  Geometry geometry_;
};

// CT in Hounsfield units, borrowed.
using VolumeView = ImageView<std::int16_t>;

}  // namespace tessera
