#include "models/backend/tensor.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "core/memory.h"
#include "core/parallel.h"

namespace tessera::models {

std::string Shape::str() const {
  return "(" + std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(h) + ", " +
         std::to_string(w) + ")";
}

namespace {
std::shared_ptr<float> allocate(std::int64_t count) {
  const std::size_t bytes = static_cast<std::size_t>(std::max<std::int64_t>(count, 1)) * 4;
  float* p = static_cast<float*>(trackedAlloc(bytes));
  if (!p) throw std::bad_alloc();
  return std::shared_ptr<float>(p, [bytes](float* q) { trackedFree(q, bytes); });
}
}  // namespace

std::int64_t Tensor::storageCount() const {
  if (layout_ == Layout::kNCHW) return shape_.count();
  return shape_.n * paddedChannels(shape_.c) * shape_.h * shape_.w;
}

Tensor Tensor::empty(Shape shape, Layout layout) {
  assert(shape.n >= 0 && shape.c >= 0 && shape.h >= 0 && shape.w >= 0);
  Tensor t;
  t.shape_ = shape;
  t.layout_ = layout;
  t.storage_ = allocate(t.storageCount());
  return t;
}

Tensor Tensor::zeros(Shape shape, Layout layout) {
  Tensor t = empty(shape, layout);
  t.setZero();
  return t;
}

std::int64_t Tensor::offset(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
  if (layout_ == Layout::kNCHW) return ((n * shape_.c + c) * shape_.h + h) * shape_.w + w;
  const std::int64_t blocks = paddedChannels(shape_.c) / kChannelBlock;
  return ((((n * blocks + c / kChannelBlock) * shape_.h + h) * shape_.w + w) * kChannelBlock) +
         c % kChannelBlock;
}

float& Tensor::at(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  return storage_.get()[offset(n, c, h, w)];
}

float Tensor::at(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
  return storage_.get()[offset(n, c, h, w)];
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, layout_);
  std::memcpy(t.data(), data(), static_cast<std::size_t>(bytes()));
  return t;
}

void Tensor::setZero() {
  std::memset(data(), 0, static_cast<std::size_t>(bytes()));
}

void Tensor::fill(float value) {
  if (layout_ == Layout::kNCHW) {
    std::fill(data(), data() + storageCount(), value);
    return;
  }
  setZero();
  for (std::int64_t n = 0; n < shape_.n; ++n)
    for (std::int64_t c = 0; c < shape_.c; ++c)
      for (std::int64_t h = 0; h < shape_.h; ++h)
        for (std::int64_t w = 0; w < shape_.w; ++w) at(n, c, h, w) = value;
}

Tensor Tensor::to(Layout layout) const {
  if (layout == layout_) return clone();
  Tensor out = layout == Layout::kBlocked16 ? zeros(shape_, layout) : empty(shape_, layout);
  const std::int64_t hw = shape_.h * shape_.w;
  const std::int64_t blocks = paddedChannels(shape_.c) / kChannelBlock;
  const float* src = data();
  float* dst = out.data();
  const bool toBlocked = layout == Layout::kBlocked16;
  parallelFor(0, shape_.n * shape_.c, [&](std::int64_t nc) {
    const std::int64_t n = nc / shape_.c, c = nc % shape_.c;
    const std::int64_t plain = (n * shape_.c + c) * hw;
    const std::int64_t blocked =
        ((n * blocks + c / kChannelBlock) * hw) * kChannelBlock + c % kChannelBlock;
    if (toBlocked) {
      for (std::int64_t p = 0; p < hw; ++p) dst[blocked + p * kChannelBlock] = src[plain + p];
    } else {
      for (std::int64_t p = 0; p < hw; ++p) dst[plain + p] = src[blocked + p * kChannelBlock];
    }
  });
  return out;
}

Tensor Tensor::samples(std::int64_t first, std::int64_t count) const {
  assert(first >= 0 && first + count <= shape_.n);
  Tensor t = *this;
  t.shape_.n = count;
  const std::int64_t perSample = storageCount() / std::max<std::int64_t>(shape_.n, 1);
  t.storage_ = std::shared_ptr<float>(storage_, storage_.get() + first * perSample);
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  assert(layout_ == Layout::kNCHW && shape.count() == shape_.count());
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

double maxAbsoluteDifference(const Tensor& a, const Tensor& b) {
  assert(a.shape() == b.shape());
  double worst = 0;
  for (std::int64_t n = 0; n < a.n(); ++n)
    for (std::int64_t c = 0; c < a.c(); ++c)
      for (std::int64_t h = 0; h < a.h(); ++h)
        for (std::int64_t w = 0; w < a.w(); ++w)
          worst =
              std::max(worst, static_cast<double>(std::abs(a.at(n, c, h, w) - b.at(n, c, h, w))));
  return worst;
}

double maxRelativeDifference(const Tensor& a, const Tensor& b) {
  assert(a.shape() == b.shape());
  double worst = 0;
  for (std::int64_t n = 0; n < a.n(); ++n)
    for (std::int64_t c = 0; c < a.c(); ++c)
      for (std::int64_t h = 0; h < a.h(); ++h)
        for (std::int64_t w = 0; w < a.w(); ++w) {
          const double x = a.at(n, c, h, w), y = b.at(n, c, h, w);
          worst = std::max(worst, std::abs(x - y) / std::max(1.0, std::abs(y)));
        }
  return worst;
}

}  // namespace tessera::models
