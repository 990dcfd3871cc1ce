// Softmax over channels in double, max-shifted so large logits cannot overflow.
#include <algorithm>
#include <cmath>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor softmax(const Tensor& logits) {
  Tensor p = Tensor::zeros(logits.shape());
  for (std::int64_t n = 0; n < logits.n(); ++n)
    for (std::int64_t h = 0; h < logits.h(); ++h)
      for (std::int64_t w = 0; w < logits.w(); ++w) {
        double best = -1e300, total = 0;
        for (std::int64_t c = 0; c < logits.c(); ++c)
          best = std::max<double>(best, logits.at(n, c, h, w));
        for (std::int64_t c = 0; c < logits.c(); ++c)
          total += std::exp(logits.at(n, c, h, w) - best);
        for (std::int64_t c = 0; c < logits.c(); ++c)
          p.at(n, c, h, w) = static_cast<float>(std::exp(logits.at(n, c, h, w) - best) / total);
      }
  return p;
}

}  // namespace tessera::models::ref
