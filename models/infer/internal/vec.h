// 16-float vectors for the inference kernels: one zmm register where the
// build targets AVX-512, two ymm registers for AVX2 + FMA, four xmm
// registers (SSE2) otherwise; broadcasts straight from memory.
// In the namespace of the instruction set being compiled (TESSERA_KERNEL_ISA,
// see kernels.h), so that the inline functions of one set's objects never
// stand in for another's at link time.
#pragma once

#include <immintrin.h>

namespace tessera::models::infer::TESSERA_KERNEL_ISA {

// How many Vec16 accumulators a kernel tile may keep in registers, with
// room left for weights and the broadcast input: 32 zmm registers hold one
// Vec16 each, 16 ymm registers hold 8, 16 xmm registers 4. The kernels
// size their tiles from it, so that no set spills accumulators to memory.
#if defined(__AVX512F__)
constexpr int kAccumulators = 24;
#elif defined(__AVX2__)
constexpr int kAccumulators = 6;
#else
constexpr int kAccumulators = 3;
#endif

#if defined(__AVX512F__)
using Vec16 = __m512;
inline Vec16 load16(const float* p) {
  return _mm512_loadu_ps(p);
}
inline void store16(float* p, Vec16 v) {
  _mm512_storeu_ps(p, v);
}
inline Vec16 broadcastFrom(const float* p) {
  return _mm512_set1_ps(*p);
}
inline Vec16 fma16(Vec16 a, Vec16 b, Vec16 c) {
  return _mm512_fmadd_ps(a, b, c);
}
inline Vec16 max16(Vec16 a, Vec16 b) {
  return _mm512_max_ps(a, b);
}
inline Vec16 zero16() {
  return _mm512_setzero_ps();
}
#elif defined(__AVX2__)
// Two ymm registers. A struct of native vectors, not a 64-byte GCC vector:
// GCC keeps arrays of over-wide vectors in memory.
struct Vec16 {
  __m256 lo, hi;
};
inline Vec16 load16(const float* p) {
  return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)};
}
inline void store16(float* p, Vec16 v) {
  _mm256_storeu_ps(p, v.lo);
  _mm256_storeu_ps(p + 8, v.hi);
}
inline Vec16 broadcastFrom(const float* p) {
  const __m256 v = _mm256_broadcast_ss(p);
  return {v, v};
}
inline Vec16 fma16(Vec16 a, Vec16 b, Vec16 c) {
  return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
}
inline Vec16 max16(Vec16 a, Vec16 b) {
  return {_mm256_max_ps(a.lo, b.lo), _mm256_max_ps(a.hi, b.hi)};
}
inline Vec16 zero16() {
  return {_mm256_setzero_ps(), _mm256_setzero_ps()};
}
#else
// Four SSE2 registers (every x86-64 CPU); multiply and add, no FMA.
struct Vec16 {
  __m128 v[4];
};
inline Vec16 load16(const float* p) {
  return {{_mm_loadu_ps(p), _mm_loadu_ps(p + 4), _mm_loadu_ps(p + 8), _mm_loadu_ps(p + 12)}};
}
inline void store16(float* p, Vec16 a) {
  for (int i = 0; i < 4; ++i) _mm_storeu_ps(p + 4 * i, a.v[i]);
}
inline Vec16 broadcastFrom(const float* p) {
  const __m128 x = _mm_set1_ps(*p);
  return {{x, x, x, x}};
}
inline Vec16 fma16(Vec16 a, Vec16 b, Vec16 c) {
  Vec16 r;
  for (int i = 0; i < 4; ++i) r.v[i] = _mm_add_ps(_mm_mul_ps(a.v[i], b.v[i]), c.v[i]);
  return r;
}
inline Vec16 max16(Vec16 a, Vec16 b) {
  Vec16 r;
  for (int i = 0; i < 4; ++i) r.v[i] = _mm_max_ps(a.v[i], b.v[i]);
  return r;
}
inline Vec16 zero16() {
  const __m128 z = _mm_setzero_ps();
  return {{z, z, z, z}};
}
#endif

}  // namespace tessera::models::infer::TESSERA_KERNEL_ISA
