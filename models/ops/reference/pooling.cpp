#include <cassert>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor maxPool2x2(const Tensor& x) {
  assert(x.h() % 2 == 0 && x.w() % 2 == 0);
  Tensor y = Tensor::zeros({x.n(), x.c(), x.h() / 2, x.w() / 2});
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t c = 0; c < x.c(); ++c)
      for (std::int64_t oy = 0; oy < y.h(); ++oy)
        for (std::int64_t ox = 0; ox < y.w(); ++ox) {
          float best = x.at(n, c, 2 * oy, 2 * ox);
          for (int d = 1; d < 4; ++d)
            best = std::max(best, x.at(n, c, 2 * oy + d / 2, 2 * ox + d % 2));
          y.at(n, c, oy, ox) = best;
        }
  return y;
}

Tensor maxPool2x2Backward(const Tensor& x, const Tensor& dy) {
  Tensor dx = Tensor::zeros(x.shape());
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t c = 0; c < x.c(); ++c)
      for (std::int64_t oy = 0; oy < dy.h(); ++oy)
        for (std::int64_t ox = 0; ox < dy.w(); ++ox) {
          int arg = 0;
          float best = x.at(n, c, 2 * oy, 2 * ox);
          for (int d = 1; d < 4; ++d) {
            const float v = x.at(n, c, 2 * oy + d / 2, 2 * ox + d % 2);
            if (v > best) {
              best = v;
              arg = d;
            }
          }
          dx.at(n, c, 2 * oy + arg / 2, 2 * ox + arg % 2) += dy.at(n, c, oy, ox);
        }
  return dx;
}

}  // namespace tessera::models::ref
