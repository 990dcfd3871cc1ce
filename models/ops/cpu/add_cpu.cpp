// Element-wise sum over whole kBlocked16 storage: channel padding is zero in
// and stays zero out (0 + 0 = 0).
#include <cassert>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {

Tensor add(const Tensor& a, const Tensor& b) {
  assert(a.shape() == b.shape() && a.layout() == b.layout());
  Tensor y = Tensor::empty(a.shape(), a.layout());
  const float* p = a.data();
  const float* q = b.data();
  float* d = y.data();
  parallelChunks(0, a.storageCount(), [&](std::int64_t s, std::int64_t e, int) {
    for (std::int64_t i = s; i < e; ++i) d[i] = p[i] + q[i];
  });
  return y;
}

}  // namespace tessera::models::cpu
