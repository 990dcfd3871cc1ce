// Statistics per sample and channel block in double (two passes: a slice's
// planes hold up to 512² values, where float sums lose digits), then one
// normalising pass with the 16 channels of a pixel side by side.
#include <cmath>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {

Tensor instanceNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  constexpr std::int64_t B = kChannelBlock;
  const std::int64_t nb = paddedChannels(x.c()) / B, hw = x.h() * x.w();
  Tensor y = Tensor::empty(x.shape(), x.layout());
  parallelFor(0, x.n() * nb, [&](std::int64_t plane) {
    const float* s = x.data() + plane * hw * B;
    float* d = y.data() + plane * hw * B;
    const std::int64_t c0 = (plane % nb) * B;
    double mean[B] = {}, var[B] = {};
    for (std::int64_t p = 0; p < hw; ++p)
      for (std::int64_t j = 0; j < B; ++j) mean[j] += s[p * B + j];
    for (std::int64_t j = 0; j < B; ++j) mean[j] /= static_cast<double>(hw);
    for (std::int64_t p = 0; p < hw; ++p)
      for (std::int64_t j = 0; j < B; ++j) {
        const double v = s[p * B + j] - mean[j];
        var[j] += v * v;
      }
    float scale[B] = {}, shift[B] = {};
    for (std::int64_t j = 0; j < B && c0 + j < x.c(); ++j) {
      const double k = gamma.data()[c0 + j] / std::sqrt(var[j] / static_cast<double>(hw) + eps);
      scale[j] = static_cast<float>(k);
      shift[j] = static_cast<float>(beta.data()[c0 + j] - mean[j] * k);
    }
    for (std::int64_t p = 0; p < hw; ++p)
      for (std::int64_t j = 0; j < B; ++j) d[p * B + j] = s[p * B + j] * scale[j] + shift[j];
  });
  return y;
}

}  // namespace tessera::models::cpu
