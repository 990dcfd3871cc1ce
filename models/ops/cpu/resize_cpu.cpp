// Up-sampling by whole factors, kBlocked16: each output pixel mixes up to
// four source pixels' 16 channels with the weights ONNX Resize defines
// (the same source coordinates as the reference, in double).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {
namespace {

struct Tap {
  std::int64_t i0, i1;
  double f;  // weight of i1
};

std::vector<Tap> taps(std::int64_t in, int scale, ResizeMode mode) {
  std::vector<Tap> out(static_cast<std::size_t>(in * scale));
  for (std::int64_t o = 0; o < in * scale; ++o) {
    if (mode == ResizeMode::kNearest) {
      out[o] = {o / scale, o / scale, 0.0};
      continue;
    }
    double s = mode == ResizeMode::kLinearAlignCorners
                   ? (in == 1 ? 0.0 : static_cast<double>(o) * (in - 1) / (in * scale - 1))
                   : (o + 0.5) / scale - 0.5;
    s = std::clamp(s, 0.0, static_cast<double>(in - 1));
    const auto i0 = static_cast<std::int64_t>(std::floor(s));
    out[o] = {i0, std::min(i0 + 1, in - 1), s - i0};
  }
  return out;
}

}  // namespace

Tensor resize(const Tensor& x, const ResizeParams& p) {
  constexpr std::int64_t B = kChannelBlock;
  const std::int64_t nb = paddedChannels(x.c()) / B;
  const std::int64_t ho = x.h() * p.scaleH, wo = x.w() * p.scaleW;
  const std::vector<Tap> ty = taps(x.h(), p.scaleH, p.mode), tx = taps(x.w(), p.scaleW, p.mode);
  Tensor y = Tensor::empty({x.n(), x.c(), ho, wo}, x.layout());
  parallelFor(0, x.n() * nb * ho, [&](std::int64_t row) {
    const std::int64_t plane = row / ho, oy = row % ho;
    const float* s = x.data() + plane * x.h() * x.w() * B;
    float* d = y.data() + (plane * ho + oy) * wo * B;
    const Tap& a = ty[oy];
    for (std::int64_t ox = 0; ox < wo; ++ox) {
      const Tap& b = tx[ox];
      const float* p00 = s + (a.i0 * x.w() + b.i0) * B;
      const float* p01 = s + (a.i0 * x.w() + b.i1) * B;
      const float* p10 = s + (a.i1 * x.w() + b.i0) * B;
      const float* p11 = s + (a.i1 * x.w() + b.i1) * B;
      for (std::int64_t j = 0; j < B; ++j) {
        const double top = p00[j] * (1.0 - b.f) + p01[j] * b.f;
        const double bottom = p10[j] * (1.0 - b.f) + p11[j] * b.f;
        d[ox * B + j] = static_cast<float>(top * (1.0 - a.f) + bottom * a.f);
      }
    }
  });
  return y;
}

}  // namespace tessera::models::cpu
