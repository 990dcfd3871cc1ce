// Channel concatenation and split (its backward), pixel by pixel in kNCHW.
#include <cassert>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor concat(const Tensor& a, const Tensor& b) {
  assert(a.n() == b.n() && a.h() == b.h() && a.w() == b.w());
  Tensor y = Tensor::zeros({a.n(), a.c() + b.c(), a.h(), a.w()});
  for (std::int64_t n = 0; n < a.n(); ++n)
    for (std::int64_t c = 0; c < y.c(); ++c)
      for (std::int64_t h = 0; h < a.h(); ++h)
        for (std::int64_t w = 0; w < a.w(); ++w)
          y.at(n, c, h, w) = c < a.c() ? a.at(n, c, h, w) : b.at(n, c - a.c(), h, w);
  return y;
}

void split(const Tensor& ab, std::int64_t channelsA, Tensor* a, Tensor* b) {
  *a = Tensor::zeros({ab.n(), channelsA, ab.h(), ab.w()});
  *b = Tensor::zeros({ab.n(), ab.c() - channelsA, ab.h(), ab.w()});
  for (std::int64_t n = 0; n < ab.n(); ++n)
    for (std::int64_t c = 0; c < ab.c(); ++c)
      for (std::int64_t h = 0; h < ab.h(); ++h)
        for (std::int64_t w = 0; w < ab.w(); ++w) {
          if (c < channelsA)
            a->at(n, c, h, w) = ab.at(n, c, h, w);
          else
            b->at(n, c - channelsA, h, w) = ab.at(n, c, h, w);
        }
}

}  // namespace tessera::models::ref
