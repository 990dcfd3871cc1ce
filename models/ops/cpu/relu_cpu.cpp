// ReLU over whole kBlocked16 storage: channel padding is zero in and stays
// zero out (relu(0) = 0).
#include <algorithm>
#include <cassert>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {

Tensor relu(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.layout());
  const float* s = x.data();
  float* d = y.data();
  parallelChunks(0, x.storageCount(), [&](std::int64_t b, std::int64_t e, int) {
    for (std::int64_t i = b; i < e; ++i) d[i] = std::max(0.0f, s[i]);
  });
  return y;
}

Tensor reluBackward(const Tensor& y, const Tensor& dy) {
  assert(y.storageCount() == dy.storageCount());
  Tensor dx = Tensor::empty(dy.shape(), dy.layout());
  const float* v = y.data();
  const float* g = dy.data();
  float* d = dx.data();
  parallelChunks(0, dy.storageCount(), [&](std::int64_t b, std::int64_t e, int) {
    for (std::int64_t i = b; i < e; ++i) d[i] = v[i] > 0.0f ? g[i] : 0.0f;
  });
  return dx;
}

}  // namespace tessera::models::cpu
