#include <cassert>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor convTranspose2x2(const Tensor& x, const Tensor& w, const Tensor* bias) {
  assert(w.n() == x.c() && w.h() == 2 && w.w() == 2);
  Tensor y = Tensor::zeros({x.n(), w.c(), 2 * x.h(), 2 * x.w()});
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t oc = 0; oc < w.c(); ++oc)
      for (std::int64_t oy = 0; oy < y.h(); ++oy)
        for (std::int64_t ox = 0; ox < y.w(); ++ox) {
          double sum = bias ? bias->at(0, oc, 0, 0) : 0.0;
          for (std::int64_t ic = 0; ic < x.c(); ++ic)
            sum += static_cast<double>(x.at(n, ic, oy / 2, ox / 2)) * w.at(ic, oc, oy % 2, ox % 2);
          y.at(n, oc, oy, ox) = static_cast<float>(sum);
        }
  return y;
}

void convTranspose2x2Backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx,
                              Tensor* dw, Tensor* dbias) {
  if (dx) *dx = Tensor::zeros(x.shape());
  if (dw) *dw = Tensor::zeros(w.shape());
  if (dbias) *dbias = Tensor::zeros({1, w.c(), 1, 1});
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t oc = 0; oc < w.c(); ++oc)
      for (std::int64_t oy = 0; oy < dy.h(); ++oy)
        for (std::int64_t ox = 0; ox < dy.w(); ++ox) {
          const float g = dy.at(n, oc, oy, ox);
          if (dbias) dbias->at(0, oc, 0, 0) += g;
          for (std::int64_t ic = 0; ic < x.c(); ++ic) {
            if (dx) dx->at(n, ic, oy / 2, ox / 2) += g * w.at(ic, oc, oy % 2, ox % 2);
            if (dw) dw->at(ic, oc, oy % 2, ox % 2) += g * x.at(n, ic, oy / 2, ox / 2);
          }
        }
}

}  // namespace tessera::models::ref
