// Softmax over the channels of each pixel (max-shifted), kBlocked16.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {

Tensor softmax(const Tensor& logits) {
  const std::int64_t nb = paddedChannels(logits.c()) / kChannelBlock;
  const BlockedPixels at{nb, logits.h() * logits.w()};
  Tensor p = Tensor::zeros(logits.shape(), logits.layout());
  const float* s = logits.data();
  float* d = p.data();
  parallelFor(0, logits.n() * at.hw, [&](std::int64_t i) {
    const std::int64_t n = i / at.hw, px = i % at.hw;
    float best = s[at.at(n, 0, px)];
    for (std::int64_t c = 1; c < logits.c(); ++c) best = std::max(best, s[at.at(n, c, px)]);
    double total = 0;
    for (std::int64_t c = 0; c < logits.c(); ++c)
      total += std::exp(double(s[at.at(n, c, px)]) - best);
    for (std::int64_t c = 0; c < logits.c(); ++c)
      d[at.at(n, c, px)] = static_cast<float>(std::exp(double(s[at.at(n, c, px)]) - best) / total);
  });
  return p;
}

}  // namespace tessera::models::cpu
