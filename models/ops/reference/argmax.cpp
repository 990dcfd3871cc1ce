#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor argmax(const Tensor& logits) {
  Tensor out = Tensor::zeros({logits.n(), 1, logits.h(), logits.w()});
  for (std::int64_t n = 0; n < logits.n(); ++n)
    for (std::int64_t h = 0; h < logits.h(); ++h)
      for (std::int64_t w = 0; w < logits.w(); ++w) {
        std::int64_t best = 0;
        for (std::int64_t c = 1; c < logits.c(); ++c)
          if (logits.at(n, c, h, w) > logits.at(n, best, h, w)) best = c;
        out.at(n, 0, h, w) = static_cast<float>(best);
      }
  return out;
}

}  // namespace tessera::models::ref
