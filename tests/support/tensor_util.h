// Helpers shared by the engine tests: deterministic random tensors and
// finite-difference gradient checks.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>

#include "models/backend/tensor.h"

namespace tessera::models::testing {

inline Tensor randomTensor(Shape shape, std::uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  Tensor t = Tensor::zeros(shape);
  for (std::int64_t i = 0; i < shape.count(); ++i)
    t.data()[i] = scale * (static_cast<float>(rng() >> 40) / 16777216.0f * 2.0f - 1.0f);
  return t;
}

// Σ y ⊙ r in double: a scalar whose gradient with respect to y is r.
inline double dot(const Tensor& y, const Tensor& r) {
  double sum = 0;
  for (std::int64_t n = 0; n < y.n(); ++n)
    for (std::int64_t c = 0; c < y.c(); ++c)
      for (std::int64_t h = 0; h < y.h(); ++h)
        for (std::int64_t w = 0; w < y.w(); ++w) sum += double(y.at(n, c, h, w)) * r.at(n, c, h, w);
  return sum;
}

// Central finite difference of loss() with respect to every element of
// `variable` (kNCHW), compared with `analytic`. Returns the worst
// |fd − analytic| / max(1e-2, |fd| + |analytic|).
inline double gradientError(Tensor& variable, const Tensor& analytic,
                            const std::function<double()>& loss, float epsilon = 1e-2f,
                            std::int64_t stride = 1) {
  double worst = 0;
  for (std::int64_t i = 0; i < variable.shape().count(); i += stride) {
    const float saved = variable.data()[i];
    variable.data()[i] = saved + epsilon;
    const double plus = loss();
    variable.data()[i] = saved - epsilon;
    const double minus = loss();
    variable.data()[i] = saved;
    const double fd = (plus - minus) / (2.0 * epsilon);
    const double a = analytic.data()[i];
    worst = std::max(worst, std::abs(fd - a) / std::max(1e-2, std::abs(fd) + std::abs(a)));
  }
  return worst;
}

// Like gradientError, for losses with kinks (ReLU, max-pool): an element
// whose one-sided differences disagree has a kink within ±epsilon and is
// skipped; `skippedFraction` reports how many were.
inline double gradientErrorSkippingKinks(Tensor& variable, const Tensor& analytic,
                                         const std::function<double()>& loss, float epsilon,
                                         std::int64_t stride, double* skippedFraction) {
  double worst = 0;
  int skipped = 0, total = 0;
  const double centre = loss();
  for (std::int64_t i = 0; i < variable.shape().count(); i += stride) {
    const float saved = variable.data()[i];
    variable.data()[i] = saved + epsilon;
    const double plus = loss();
    variable.data()[i] = saved - epsilon;
    const double minus = loss();
    variable.data()[i] = saved;
    ++total;
    const double forward = (plus - centre) / epsilon, backward = (centre - minus) / epsilon;
    if (std::abs(forward - backward) > 0.05 * (std::abs(forward) + std::abs(backward)) + 1e-3) {
      ++skipped;
      continue;
    }
    const double fd = (plus - minus) / (2.0 * epsilon);
    const double a = analytic.data()[i];
    worst = std::max(worst, std::abs(fd - a) / std::max(1e-2, std::abs(fd) + std::abs(a)));
  }
  *skippedFraction = total ? double(skipped) / total : 0.0;
  return worst;
}

}  // namespace tessera::models::testing
