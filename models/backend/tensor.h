// Network data: a float32 4D tensor (N, C, H, W) without geometry, in one of
// two memory layouts:
//   kNCHW      plain, contiguous; what the reference ops and file formats use.
//   kBlocked16 nChw16c: [N][ceil(C/16)][H][W][16], channels padded with zeros
//              to a multiple of 16 so one AVX-512 register holds the 16
//              channels of one pixel. The CPU backend keeps activations in
//              this layout end to end (no reorders between layers).
// Storage comes from the tracked allocator (core/memory.h) and is shared
// between copies (a Tensor is a cheap handle); clone() copies the data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace tessera::models {

enum class Layout { kNCHW, kBlocked16 };

struct Shape {
  std::int64_t n = 0, c = 0, h = 0, w = 0;
  std::int64_t count() const { return n * c * h * w; }
  bool operator==(const Shape&) const = default;
  std::string str() const;
};

constexpr std::int64_t kChannelBlock = 16;
inline std::int64_t paddedChannels(std::int64_t c) {
  return (c + kChannelBlock - 1) / kChannelBlock * kChannelBlock;
}

class Tensor {
 public:
  Tensor() = default;
  // Zero-initialised. Asserts on a negative dimension; allocation failure
  // throws std::bad_alloc (callers at module boundaries check sizes first).
  static Tensor zeros(Shape shape, Layout layout = Layout::kNCHW);
  // Uninitialised storage, for outputs that are fully overwritten.
  static Tensor empty(Shape shape, Layout layout = Layout::kNCHW);

  const Shape& shape() const { return shape_; }
  Layout layout() const { return layout_; }
  std::int64_t n() const { return shape_.n; }
  std::int64_t c() const { return shape_.c; }
  std::int64_t h() const { return shape_.h; }
  std::int64_t w() const { return shape_.w; }
  bool defined() const { return storage_ != nullptr; }

  // Floats in storage (includes channel padding for kBlocked16).
  std::int64_t storageCount() const;
  std::int64_t bytes() const { return storageCount() * 4; }
  float* data() { return storage_.get(); }
  const float* data() const { return storage_.get(); }

  // Element (n, c, h, w) in either layout; slow, for tests and reference code.
  float& at(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w);
  float at(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const;
  std::int64_t offset(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const;

  Tensor clone() const;
  void fill(float value);  // padding channels stay zero in kBlocked16
  void setZero();
  // Same data in the other layout (a copy); identity copy when equal.
  Tensor to(Layout layout) const;
  // A view of samples [first, first + count) sharing storage.
  Tensor samples(std::int64_t first, std::int64_t count) const;
  // Reinterprets the shape (kNCHW only, same element count), sharing storage.
  Tensor reshaped(Shape shape) const;

 private:
  Shape shape_;
  Layout layout_ = Layout::kNCHW;
  std::shared_ptr<float> storage_;
};

// Largest |a - b| / max(1, |b|) over all elements; shapes must match.
double maxRelativeDifference(const Tensor& a, const Tensor& b);
double maxAbsoluteDifference(const Tensor& a, const Tensor& b);

}  // namespace tessera::models
