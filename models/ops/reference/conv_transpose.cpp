#include <algorithm>
#include <cassert>
#include <vector>

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

namespace tessera::models::ref {

Tensor convTranspose(const Tensor& x, const Tensor& w, const Tensor* bias,
                     const ConvTransposeParams& p) {
  assert(w.n() == x.c() && w.h() == p.kernel && w.w() == p.kernel);
  const std::int64_t ho = (x.h() - 1) * p.stride - 2 * p.pad + p.kernel + p.outputPad;
  const std::int64_t wo = (x.w() - 1) * p.stride - 2 * p.pad + p.kernel + p.outputPad;
  std::vector<double> acc(static_cast<std::size_t>(ho * wo));
  Tensor y = Tensor::zeros({x.n(), w.c(), ho, wo});
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t oc = 0; oc < w.c(); ++oc) {
      std::fill(acc.begin(), acc.end(), bias ? bias->at(0, oc, 0, 0) : 0.0);
      for (std::int64_t ic = 0; ic < x.c(); ++ic)
        for (std::int64_t iy = 0; iy < x.h(); ++iy)
          for (std::int64_t ix = 0; ix < x.w(); ++ix)
            for (int ky = 0; ky < p.kernel; ++ky)
              for (int kx = 0; kx < p.kernel; ++kx) {
                const std::int64_t oy = iy * p.stride + ky - p.pad, ox = ix * p.stride + kx - p.pad;
                if (oy < 0 || oy >= ho || ox < 0 || ox >= wo) continue;
                acc[oy * wo + ox] +=
                    static_cast<double>(x.at(n, ic, iy, ix)) * w.at(ic, oc, ky, kx);
              }
      for (std::int64_t i = 0; i < ho * wo; ++i)
        y.at(n, oc, i / wo, i % wo) = static_cast<float>(acc[i]);
    }
  return y;
}

}  // namespace tessera::models::ref
