// Per-channel slope over kBlocked16 storage; padding channels get slope 0
// and stay zero.
#include <vector>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {

Tensor prelu(const Tensor& x, const Tensor& slope) {
  const std::int64_t nb = paddedChannels(x.c()) / kChannelBlock, hw = x.h() * x.w();
  std::vector<float> a(static_cast<std::size_t>(nb * kChannelBlock), 0.0f);
  for (std::int64_t c = 0; c < x.c(); ++c) a[c] = slope.data()[c];
  Tensor y = Tensor::empty(x.shape(), x.layout());
  parallelFor(0, x.n() * nb, [&](std::int64_t plane) {
    const float* s = x.data() + plane * hw * kChannelBlock;
    float* d = y.data() + plane * hw * kChannelBlock;
    const float* k = a.data() + (plane % nb) * kChannelBlock;
    for (std::int64_t p = 0; p < hw; ++p)
      for (std::int64_t j = 0; j < kChannelBlock; ++j) {
        const float v = s[p * kChannelBlock + j];
        d[p * kChannelBlock + j] = v >= 0.0f ? v : k[j] * v;
      }
  });
  return y;
}

}  // namespace tessera::models::cpu
