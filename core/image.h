// Voxel containers. Image<T> owns a contiguous x-fastest buffer (index
// i + nx * (j + ny * k)) allocated through the tracked allocator, plus its
// Geometry. Volume is the CT in Hounsfield units; LabelMap is a label volume
// with its label table. Neither carries any toolkit type.
#pragma once

#include <cstdint>
#include <vector>

#include "core/geometry.h"
#include "core/labels.h"
#include "core/memory.h"
#include "core/status.h"

namespace tessera {

// Largest image Tessera agrees to allocate, in bytes: the job's memory
// limit (core/memory_budget.h).
std::int64_t maxImageBytes();

// Checks that an image of this geometry and voxel size fits in what the
// job's memory budget has left (the live tracked buffers count).
Status checkAllocatable(const Geometry& geometry, std::int64_t bytesPerVoxel);

template <class T>
class Image {
 public:
  using Voxel = T;
  using Buffer = std::vector<T, TrackedAllocator<T>>;

  Image() = default;

  // Validates the geometry and the size before allocating.
  static Result<Image> create(const Geometry& geometry, T fill = T{}) {
    TESSERA_RETURN_IF_ERROR(validateGeometry(geometry));
    TESSERA_RETURN_IF_ERROR(checkAllocatable(geometry, sizeof(T)));
    Image image;
    image.geometry_ = geometry;
    image.voxels_.assign(static_cast<std::size_t>(geometry.voxelCount()), fill);
    return image;
  }

  const Geometry& geometry() const { return geometry_; }
  // Spacing, origin and direction may change; size must stay (see resize).
  Geometry& geometry() { return geometry_; }
  bool empty() const { return voxels_.empty(); }

  std::int64_t nx() const { return geometry_.size[0]; }
  std::int64_t ny() const { return geometry_.size[1]; }
  std::int64_t nz() const { return geometry_.size[2]; }
  std::int64_t voxelCount() const { return static_cast<std::int64_t>(voxels_.size()); }

  T* data() { return voxels_.data(); }
  const T* data() const { return voxels_.data(); }
  Buffer& buffer() { return voxels_; }
  const Buffer& buffer() const { return voxels_; }

  std::int64_t index(std::int64_t i, std::int64_t j, std::int64_t k) const {
    return i + nx() * (j + ny() * k);
  }
  T& at(std::int64_t i, std::int64_t j, std::int64_t k) { return voxels_[index(i, j, k)]; }
  const T& at(std::int64_t i, std::int64_t j, std::int64_t k) const {
    return voxels_[index(i, j, k)];
  }
  // Pointer to the first voxel of axial slice k (nx * ny voxels).
  T* slice(std::int64_t k) { return voxels_.data() + nx() * ny() * k; }
  const T* slice(std::int64_t k) const { return voxels_.data() + nx() * ny() * k; }

 private:
  Geometry geometry_;
  Buffer voxels_;
};

// CT intensities in Hounsfield units (rescale slope/intercept applied).
using Volume = Image<std::int16_t>;

struct LabelMap {
  Image<std::uint8_t> labels;
  LabelTable table;
};

}  // namespace tessera
