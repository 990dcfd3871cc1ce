#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor prelu(const Tensor& x, const Tensor& slope) {
  Tensor y = Tensor::zeros(x.shape());
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t c = 0; c < x.c(); ++c)
      for (std::int64_t h = 0; h < x.h(); ++h)
        for (std::int64_t w = 0; w < x.w(); ++w) {
          const float v = x.at(n, c, h, w);
          y.at(n, c, h, w) = v >= 0.0f ? v : slope.at(0, c, 0, 0) * v;
        }
  return y;
}

}  // namespace tessera::models::ref
