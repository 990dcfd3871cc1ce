// Element-wise sum (the residual and skip connections). Its backward is the
// identity on both inputs, so there is no addBackward in any backend.
#include <cassert>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor add(const Tensor& a, const Tensor& b) {
  assert(a.shape() == b.shape());
  Tensor y = Tensor::zeros(a.shape());
  for (std::int64_t n = 0; n < a.n(); ++n)
    for (std::int64_t c = 0; c < a.c(); ++c)
      for (std::int64_t h = 0; h < a.h(); ++h)
        for (std::int64_t w = 0; w < a.w(); ++w)
          y.at(n, c, h, w) = a.at(n, c, h, w) + b.at(n, c, h, w);
  return y;
}

}  // namespace tessera::models::ref
