// Batch norm on nChw16c, 16 channels per vector. Statistics are summed in
// double per image row, then the rows are added in a fixed order: the result
// depends neither on the thread count nor on scheduling.
#include <cassert>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {
namespace {

constexpr std::int64_t B = kChannelBlock;

std::int64_t blocks(const Tensor& x) {
  return paddedChannels(x.c()) / B;
}

// Per-channel values padded with zeros to whole blocks.
std::vector<float> padded(const float* values, std::int64_t c) {
  std::vector<float> out(static_cast<std::size_t>(paddedChannels(c)), 0.0f);
  for (std::int64_t i = 0; i < c; ++i) out[i] = values[i];
  return out;
}

// Sums rowSums(row pointer, acc) over every (n, h) image row of each block:
// returns K per-channel totals, laid out [k][padded channel].
template <int K, class RowSums>
std::vector<double> channelSums(const Tensor& x, RowSums&& rowSums) {
  const std::int64_t nb = blocks(x), rowLength = x.w() * B;
  const std::int64_t rows = x.n() * nb * x.h();
  std::vector<double> partial(static_cast<std::size_t>(rows * K * B), 0.0);
  parallelFor(0, rows, [&](std::int64_t r) {
    const std::int64_t block = r / x.h() % nb;
    rowSums(r * rowLength, block, partial.data() + r * K * B);
  });
  std::vector<double> total(static_cast<std::size_t>(K * nb * B), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t block = r / x.h() % nb;
    for (int k = 0; k < K; ++k)
      for (std::int64_t l = 0; l < B; ++l)
        total[(k * nb + block) * B + l] += partial[(r * K + k) * B + l];
  }
  return total;
}

// y = γ·(x − mean)·invStd + β per channel, the one float formula both
// training and recomputation use. Padding lanes have γ = β = 0, so stay 0.
void normalize(const Tensor& x, const std::vector<float>& gamma, const std::vector<float>& mean,
               const std::vector<float>& invStd, const std::vector<float>& beta, Tensor& y) {
  const std::int64_t nb = blocks(x), rowLength = x.w() * B;
  const float* src = x.data();
  float* dst = y.data();
  parallelFor(0, x.n() * nb * x.h(), [&](std::int64_t r) {
    const std::int64_t c0 = (r / x.h() % nb) * B;
    const float* g = gamma.data() + c0;
    const float* m = mean.data() + c0;
    const float* s = invStd.data() + c0;
    const float* b = beta.data() + c0;
    const float* in = src + r * rowLength;
    float* out = dst + r * rowLength;
    for (std::int64_t p = 0; p < rowLength; p += B)
      for (std::int64_t l = 0; l < B; ++l) out[p + l] = g[l] * (in[p + l] - m[l]) * s[l] + b[l];
  });
}

}  // namespace

Tensor batchNormTrain(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                      BatchNormState* state) {
  assert(x.layout() == Layout::kBlocked16);
  const std::int64_t c = x.c(), rowLength = x.w() * B;
  const double count = static_cast<double>(x.n() * x.h() * x.w());
  const float* src = x.data();
  const std::vector<double> sum =
      channelSums<1>(x, [&](std::int64_t at, std::int64_t, double* acc) {
        for (std::int64_t p = 0; p < rowLength; p += B)
          for (std::int64_t l = 0; l < B; ++l) acc[l] += src[at + p + l];
      });
  std::vector<double> mean(sum.size());
  for (std::size_t i = 0; i < sum.size(); ++i) mean[i] = sum[i] / count;
  // Second pass around the mean, as the reference does (no cancellation).
  const std::vector<double> sq =
      channelSums<1>(x, [&](std::int64_t at, std::int64_t block, double* acc) {
        const double* m = mean.data() + block * B;
        for (std::int64_t p = 0; p < rowLength; p += B)
          for (std::int64_t l = 0; l < B; ++l) {
            const double d = src[at + p + l] - m[l];
            acc[l] += d * d;
          }
      });
  state->mean.resize(c);
  state->invStd.resize(c);
  for (std::int64_t i = 0; i < c; ++i) {
    state->mean[i] = static_cast<float>(mean[i]);
    state->invStd[i] = static_cast<float>(1.0 / std::sqrt(sq[i] / count + eps));
  }
  return batchNormApply(x, gamma, beta, *state);
}

Tensor batchNormApply(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                      const BatchNormState& state) {
  assert(x.layout() == Layout::kBlocked16);
  const std::int64_t c = x.c();
  Tensor y = Tensor::empty(x.shape(), Layout::kBlocked16);
  normalize(x, padded(gamma.data(), c), padded(state.mean.data(), c),
            padded(state.invStd.data(), c), padded(beta.data(), c), y);
  return y;
}

void batchNormBackward(const Tensor& x, const Tensor& gamma, const BatchNormState& state,
                       const Tensor& dy, Tensor* dx, Tensor* dgamma, Tensor* dbeta) {
  assert(x.layout() == Layout::kBlocked16 && dy.layout() == Layout::kBlocked16);
  const std::int64_t c = x.c(), rowLength = x.w() * B, nb = blocks(x);
  const double count = static_cast<double>(x.n() * x.h() * x.w());
  const std::vector<float> mean = padded(state.mean.data(), c);
  const std::vector<float> invStd = padded(state.invStd.data(), c);
  const float* src = x.data();
  const float* grad = dy.data();
  // [0]: Σ dy, [1]: Σ dy·x̂ with x̂ = (x − mean)·invStd in float.
  const std::vector<double> sums =
      channelSums<2>(x, [&](std::int64_t at, std::int64_t block, double* acc) {
        const float* m = mean.data() + block * B;
        const float* s = invStd.data() + block * B;
        for (std::int64_t p = 0; p < rowLength; p += B)
          for (std::int64_t l = 0; l < B; ++l) {
            const float xhat = (src[at + p + l] - m[l]) * s[l];
            acc[l] += grad[at + p + l];
            acc[B + l] += static_cast<double>(grad[at + p + l]) * xhat;
          }
      });
  auto sumDy = [&](std::int64_t ch) { return sums[(0 * nb + ch / B) * B + ch % B]; };
  auto sumDyXhat = [&](std::int64_t ch) { return sums[(1 * nb + ch / B) * B + ch % B]; };
  if (dgamma) *dgamma = Tensor::empty({1, c, 1, 1});
  if (dbeta) *dbeta = Tensor::empty({1, c, 1, 1});
  for (std::int64_t i = 0; i < c; ++i) {
    if (dgamma) dgamma->data()[i] = static_cast<float>(sumDyXhat(i));
    if (dbeta) dbeta->data()[i] = static_cast<float>(sumDy(i));
  }
  if (!dx) return;
  // dx = γ·invStd·(dy − mean(dy) − x̂·mean(dy·x̂)); zero coefficients on padding.
  std::vector<float> scale(paddedChannels(c), 0.0f), meanDy = scale, meanDyXhat = scale;
  for (std::int64_t i = 0; i < c; ++i) {
    scale[i] = gamma.data()[i] * state.invStd[i];
    meanDy[i] = static_cast<float>(sumDy(i) / count);
    meanDyXhat[i] = static_cast<float>(sumDyXhat(i) / count);
  }
  *dx = Tensor::empty(x.shape(), Layout::kBlocked16);
  float* out = dx->data();
  parallelFor(0, x.n() * nb * x.h(), [&](std::int64_t r) {
    const std::int64_t c0 = (r / x.h() % nb) * B;
    const float *m = mean.data() + c0, *s = invStd.data() + c0, *k = scale.data() + c0;
    const float *a = meanDy.data() + c0, *b = meanDyXhat.data() + c0;
    const std::int64_t at = r * rowLength;
    for (std::int64_t p = 0; p < rowLength; p += B)
      for (std::int64_t l = 0; l < B; ++l) {
        const float xhat = (src[at + p + l] - m[l]) * s[l];
        out[at + p + l] = k[l] * (grad[at + p + l] - a[l] - xhat * b[l]);
      }
  });
}

}  // namespace tessera::models::cpu
