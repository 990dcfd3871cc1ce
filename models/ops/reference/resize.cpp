// Up-sampling by whole factors with the source coordinates ONNX Resize
// defines for each mode, in double.
#include <algorithm>
#include <cmath>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {
namespace {

// Source coordinate of output index o along an axis of `in` pixels.
double source(std::int64_t o, int scale, std::int64_t in, ResizeMode mode) {
  if (mode == ResizeMode::kLinearAlignCorners)
    return in == 1 ? 0.0 : static_cast<double>(o) * (in - 1) / (in * scale - 1);
  return (o + 0.5) / scale - 0.5;
}

}  // namespace

Tensor resize(const Tensor& x, const ResizeParams& p) {
  Tensor y = Tensor::zeros({x.n(), x.c(), x.h() * p.scaleH, x.w() * p.scaleW});
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t c = 0; c < x.c(); ++c)
      for (std::int64_t oy = 0; oy < y.h(); ++oy)
        for (std::int64_t ox = 0; ox < y.w(); ++ox) {
          if (p.mode == ResizeMode::kNearest) {
            y.at(n, c, oy, ox) = x.at(n, c, oy / p.scaleH, ox / p.scaleW);
            continue;
          }
          const double sy = std::clamp(source(oy, p.scaleH, x.h(), p.mode), 0.0, double(x.h() - 1));
          const double sx = std::clamp(source(ox, p.scaleW, x.w(), p.mode), 0.0, double(x.w() - 1));
          const std::int64_t y0 = static_cast<std::int64_t>(std::floor(sy));
          const std::int64_t x0 = static_cast<std::int64_t>(std::floor(sx));
          const std::int64_t y1 = std::min(y0 + 1, x.h() - 1), x1 = std::min(x0 + 1, x.w() - 1);
          const double fy = sy - y0, fx = sx - x0;
          const double top = x.at(n, c, y0, x0) * (1 - fx) + x.at(n, c, y0, x1) * fx;
          const double bottom = x.at(n, c, y1, x0) * (1 - fx) + x.at(n, c, y1, x1) * fx;
          y.at(n, c, oy, ox) = static_cast<float>(top * (1 - fy) + bottom * fy);
        }
  return y;
}

}  // namespace tessera::models::ref
