// Index of the largest class per pixel of nChw16c logits, ties to the
// smaller index like ref::argmax; the result is kNCHW (N, 1, H, W).
#include <cassert>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {

Tensor argmax(const Tensor& logits) {
  assert(logits.layout() == Layout::kBlocked16);
  const BlockedPixels at{paddedChannels(logits.c()) / kChannelBlock, logits.h() * logits.w()};
  Tensor out = Tensor::empty({logits.n(), 1, logits.h(), logits.w()});
  const float* in = logits.data();
  parallelFor(0, logits.n() * at.hw, [&](std::int64_t i) {
    const std::int64_t n = i / at.hw, p = i % at.hw;
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < logits.c(); ++c)
      if (in[at.at(n, c, p)] > in[at.at(n, best, p)]) best = c;
    out.data()[i] = static_cast<float>(best);
  });
  return out;
}

}  // namespace tessera::models::cpu
