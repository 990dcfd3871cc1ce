// Instance normalisation in double: statistics of each sample's channel plane.
#include <cmath>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor instanceNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  Tensor y = Tensor::zeros(x.shape());
  const double pixels = static_cast<double>(x.h() * x.w());
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t c = 0; c < x.c(); ++c) {
      double sum = 0, squares = 0;
      for (std::int64_t h = 0; h < x.h(); ++h)
        for (std::int64_t w = 0; w < x.w(); ++w) sum += x.at(n, c, h, w);
      const double mean = sum / pixels;
      for (std::int64_t h = 0; h < x.h(); ++h)
        for (std::int64_t w = 0; w < x.w(); ++w) {
          const double d = x.at(n, c, h, w) - mean;
          squares += d * d;
        }
      const double scale = gamma.at(0, c, 0, 0) / std::sqrt(squares / pixels + eps);
      for (std::int64_t h = 0; h < x.h(); ++h)
        for (std::int64_t w = 0; w < x.w(); ++w)
          y.at(n, c, h, w) =
              static_cast<float>((x.at(n, c, h, w) - mean) * scale + beta.at(0, c, 0, 0));
    }
  return y;
}

}  // namespace tessera::models::ref
