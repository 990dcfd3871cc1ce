// 2×2 max pooling on nChw16c, our own kernel: one pass, 16 channels per
// vector. The backward recomputes each window's argmax from x (as cheap as
// reading a saved index, and the Backend interface keeps no workspace).
#include <cassert>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {
namespace {
constexpr std::int64_t B = kChannelBlock;
}  // namespace

Tensor maxPool2x2(const Tensor& x) {
  assert(x.layout() == Layout::kBlocked16 && x.h() % 2 == 0 && x.w() % 2 == 0);
  const std::int64_t planes = x.n() * paddedChannels(x.c()) / B;
  const std::int64_t ho = x.h() / 2, wo = x.w() / 2, w = x.w();
  Tensor y = Tensor::empty({x.n(), x.c(), ho, wo}, Layout::kBlocked16);
  const float* src = x.data();
  float* dst = y.data();
  parallelFor(0, planes * ho, [&](std::int64_t row) {
    const std::int64_t plane = row / ho, oy = row % ho;
    const float* top = src + (plane * x.h() + 2 * oy) * w * B;
    const float* bottom = top + w * B;
    float* out = dst + row * wo * B;
    for (std::int64_t ox = 0; ox < wo; ++ox) {
      const float* a = top + 2 * ox * B;
      const float* c = bottom + 2 * ox * B;
      for (std::int64_t l = 0; l < B; ++l) {
        // Window order (0,0), (0,1), (1,0), (1,1); strict > keeps the first maximum.
        float best = a[l];
        if (a[B + l] > best) best = a[B + l];
        if (c[l] > best) best = c[l];
        if (c[B + l] > best) best = c[B + l];
        out[ox * B + l] = best;
      }
    }
  });
  return y;
}

Tensor maxPool2x2Backward(const Tensor& x, const Tensor& dy) {
  assert(x.layout() == Layout::kBlocked16 && dy.layout() == Layout::kBlocked16);
  const std::int64_t planes = x.n() * paddedChannels(x.c()) / B;
  const std::int64_t ho = dy.h(), wo = dy.w(), w = x.w();
  Tensor dx = Tensor::empty(x.shape(), Layout::kBlocked16);
  const float* src = x.data();
  const float* g = dy.data();
  float* dst = dx.data();
  parallelFor(0, planes * ho, [&](std::int64_t row) {
    const std::int64_t plane = row / ho, oy = row % ho;
    const std::int64_t top = (plane * x.h() + 2 * oy) * w * B;
    const float* grad = g + row * wo * B;
    for (std::int64_t ox = 0; ox < wo; ++ox) {
      const std::int64_t at[4] = {top + 2 * ox * B, top + (2 * ox + 1) * B, top + (w + 2 * ox) * B,
                                  top + (w + 2 * ox + 1) * B};
      for (std::int64_t l = 0; l < B; ++l) {
        int arg = 0;
        float best = src[at[0] + l];
        for (int d = 1; d < 4; ++d)
          if (src[at[d] + l] > best) {
            best = src[at[d] + l];
            arg = d;
          }
        for (int d = 0; d < 4; ++d) dst[at[d] + l] = d == arg ? grad[ox * B + l] : 0.0f;
      }
    }
  });
  return dx;
}

}  // namespace tessera::models::cpu
