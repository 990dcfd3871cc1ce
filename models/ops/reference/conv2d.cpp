#include <cassert>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad) {
  assert(x.layout() == Layout::kNCHW && w.c() == x.c() && w.h() == w.w());
  const std::int64_t k = w.h();
  const std::int64_t ho = (x.h() + 2 * pad - k) / stride + 1;
  const std::int64_t wo = (x.w() + 2 * pad - k) / stride + 1;
  Tensor y = Tensor::zeros({x.n(), w.n(), ho, wo});
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t oc = 0; oc < w.n(); ++oc)
      for (std::int64_t oy = 0; oy < ho; ++oy)
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          double sum = bias ? bias->at(0, oc, 0, 0) : 0.0;
          for (std::int64_t ic = 0; ic < x.c(); ++ic)
            for (std::int64_t ky = 0; ky < k; ++ky)
              for (std::int64_t kx = 0; kx < k; ++kx) {
                const std::int64_t iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                if (iy < 0 || iy >= x.h() || ix < 0 || ix >= x.w()) continue;
                sum += static_cast<double>(x.at(n, ic, iy, ix)) * w.at(oc, ic, ky, kx);
              }
          y.at(n, oc, oy, ox) = static_cast<float>(sum);
        }
  return y;
}

void conv2dBackward(const Tensor& x, const Tensor& w, const Tensor& dy, int stride, int pad,
                    Tensor* dx, Tensor* dw, Tensor* dbias) {
  const std::int64_t k = w.h();
  if (dx) *dx = Tensor::zeros(x.shape());
  if (dw) *dw = Tensor::zeros(w.shape());
  if (dbias) *dbias = Tensor::zeros({1, w.n(), 1, 1});
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t oc = 0; oc < w.n(); ++oc)
      for (std::int64_t oy = 0; oy < dy.h(); ++oy)
        for (std::int64_t ox = 0; ox < dy.w(); ++ox) {
          const float g = dy.at(n, oc, oy, ox);
          if (dbias) dbias->at(0, oc, 0, 0) += g;
          for (std::int64_t ic = 0; ic < x.c(); ++ic)
            for (std::int64_t ky = 0; ky < k; ++ky)
              for (std::int64_t kx = 0; kx < k; ++kx) {
                const std::int64_t iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                if (iy < 0 || iy >= x.h() || ix < 0 || ix >= x.w()) continue;
                if (dx) dx->at(n, ic, iy, ix) += g * w.at(oc, ic, ky, kx);
                if (dw) dw->at(oc, ic, ky, kx) += g * x.at(n, ic, iy, ix);
              }
        }
}

}  // namespace tessera::models::ref
