#include <cmath>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor batchNormTrain(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                      BatchNormState* state) {
  const std::int64_t count = x.n() * x.h() * x.w();
  state->mean.assign(x.c(), 0.0f);
  state->invStd.assign(x.c(), 0.0f);
  for (std::int64_t c = 0; c < x.c(); ++c) {
    double sum = 0, sq = 0;
    for (std::int64_t n = 0; n < x.n(); ++n)
      for (std::int64_t h = 0; h < x.h(); ++h)
        for (std::int64_t w = 0; w < x.w(); ++w) sum += x.at(n, c, h, w);
    const double mean = sum / count;
    for (std::int64_t n = 0; n < x.n(); ++n)
      for (std::int64_t h = 0; h < x.h(); ++h)
        for (std::int64_t w = 0; w < x.w(); ++w) sq += std::pow(x.at(n, c, h, w) - mean, 2);
    const double invStd = 1.0 / std::sqrt(sq / count + eps);
    state->mean[c] = static_cast<float>(mean);
    state->invStd[c] = static_cast<float>(invStd);
  }
  return batchNormApply(x, gamma, beta, *state);
}

Tensor batchNormApply(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                      const BatchNormState& state) {
  const std::vector<float>& mean = state.mean;
  const std::vector<float>& invStd = state.invStd;
  Tensor y = Tensor::zeros(x.shape());
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t c = 0; c < x.c(); ++c) {
      const float g = gamma.at(0, c, 0, 0), b = beta.at(0, c, 0, 0);
      for (std::int64_t h = 0; h < x.h(); ++h)
        for (std::int64_t w = 0; w < x.w(); ++w)
          y.at(n, c, h, w) = g * (x.at(n, c, h, w) - mean[c]) * invStd[c] + b;
    }
  return y;
}

void batchNormBackward(const Tensor& x, const Tensor& gamma, const BatchNormState& state,
                       const Tensor& dy, Tensor* dx, Tensor* dgamma, Tensor* dbeta) {
  const double count = static_cast<double>(x.n() * x.h() * x.w());
  if (dx) *dx = Tensor::zeros(x.shape());
  if (dgamma) *dgamma = Tensor::zeros({1, x.c(), 1, 1});
  if (dbeta) *dbeta = Tensor::zeros({1, x.c(), 1, 1});
  for (std::int64_t c = 0; c < x.c(); ++c) {
    double sumDy = 0, sumDyXhat = 0;
    for (std::int64_t n = 0; n < x.n(); ++n)
      for (std::int64_t h = 0; h < x.h(); ++h)
        for (std::int64_t w = 0; w < x.w(); ++w) {
          const double xhat = (x.at(n, c, h, w) - state.mean[c]) * state.invStd[c];
          sumDy += dy.at(n, c, h, w);
          sumDyXhat += dy.at(n, c, h, w) * xhat;
        }
    if (dgamma) dgamma->at(0, c, 0, 0) = static_cast<float>(sumDyXhat);
    if (dbeta) dbeta->at(0, c, 0, 0) = static_cast<float>(sumDy);
    if (!dx) continue;
    const double g = gamma.at(0, c, 0, 0) * state.invStd[c];
    for (std::int64_t n = 0; n < x.n(); ++n)
      for (std::int64_t h = 0; h < x.h(); ++h)
        for (std::int64_t w = 0; w < x.w(); ++w) {
          const double xhat = (x.at(n, c, h, w) - state.mean[c]) * state.invStd[c];
          dx->at(n, c, h, w) = static_cast<float>(
              g * (dy.at(n, c, h, w) - sumDy / count - xhat * sumDyXhat / count));
        }
  }
}

Tensor batchNormInference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                          const Tensor& runningMean, const Tensor& runningVar, float eps) {
  Tensor y = Tensor::zeros(x.shape());
  for (std::int64_t n = 0; n < x.n(); ++n)
    for (std::int64_t c = 0; c < x.c(); ++c) {
      const double scale = gamma.at(0, c, 0, 0) / std::sqrt(runningVar.at(0, c, 0, 0) + eps);
      for (std::int64_t h = 0; h < x.h(); ++h)
        for (std::int64_t w = 0; w < x.w(); ++w)
          y.at(n, c, h, w) = static_cast<float>(
              (x.at(n, c, h, w) - runningMean.at(0, c, 0, 0)) * scale + beta.at(0, c, 0, 0));
    }
  return y;
}

}  // namespace tessera::models::ref
