// Private to the CPU backend: small float kernels written so that GCC
// vectorises them without -ffast-math (no reassociation is needed: sums
// keep 16 independent lanes and combine them in a fixed order), and so
// are deterministic.
#pragma once

#include <bit>
#include <cstdint>

namespace tessera::models::cpu {

// e^x in float: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split), e^r by
// the Cephes polynomial, 2^n through the exponent bits. Relative error
// below 1e-7 on [−87.3, 88.7] (inputs are clamped there); ~10× faster than
// std::exp because it vectorises. Softmax arguments are ≤ 0.
inline float expApprox(float x) {
  x = x < -87.33654f ? -87.33654f : (x > 88.72283f ? 88.72283f : x);
  constexpr float kRound = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

constexpr int kLanes = 16;

inline float maxOf(const float* v, std::int64_t n) {
  float lane[kLanes];
  for (int l = 0; l < kLanes; ++l) lane[l] = v[0];
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] = v[i + l] > lane[l] ? v[i + l] : lane[l];
  float best = lane[0];
  for (int l = 1; l < kLanes; ++l) best = lane[l] > best ? lane[l] : best;
  for (; i < n; ++i) best = v[i] > best ? v[i] : best;
  return best;
}

// Σ v[i]·w[i] and Σ v[i], accumulated in double.
inline double dotOf(const float* v, const float* w, std::int64_t n) {
  double lane[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += static_cast<double>(v[i + l]) * w[i + l];
  double total = 0;
  for (int l = 0; l < kLanes; ++l) total += lane[l];
  for (; i < n; ++i) total += static_cast<double>(v[i]) * w[i];
  return total;
}

inline double sumOf(const float* v, std::int64_t n) {
  double lane[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += v[i + l];
  double total = 0;
  for (int l = 0; l < kLanes; ++l) total += lane[l];
  for (; i < n; ++i) total += v[i];
  return total;
}

}  // namespace tessera::models::cpu
