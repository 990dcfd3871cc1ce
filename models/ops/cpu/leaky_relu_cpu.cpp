// Over whole kBlocked16 storage: zero channel padding stays zero.
#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {

Tensor leakyRelu(const Tensor& x, float alpha) {
  Tensor y = Tensor::empty(x.shape(), x.layout());
  const float* s = x.data();
  float* d = y.data();
  parallelChunks(0, x.storageCount(), [&](std::int64_t b, std::int64_t e, int) {
    for (std::int64_t i = b; i < e; ++i) d[i] = s[i] >= 0.0f ? s[i] : alpha * s[i];
  });
  return y;
}

}  // namespace tessera::models::cpu
