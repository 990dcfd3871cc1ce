// 16-float vectors for the inference kernels: AVX-512 intrinsics where the
// build targets AVX-512 (broadcasts straight from memory, explicit FMA), GCC
// vector extensions elsewhere so the same kernels build for AVX2 or SSE.
// In the namespace of the instruction set being compiled (TESSERA_KERNEL_ISA,
// see kernels.h), so that the inline functions of one set's objects never
// stand in for another's at link time.
#pragma once

#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace tessera::models::infer::TESSERA_KERNEL_ISA {

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
#else
typedef float Vec16 __attribute__((vector_size(64)));
inline Vec16 load16(const float* p) {
  Vec16 v;
  std::memcpy(&v, p, 64);
  return v;
}
inline void store16(float* p, Vec16 v) {
  std::memcpy(p, &v, 64);
}
inline Vec16 broadcastFrom(const float* p) {
  return Vec16{} + *p;
}
inline Vec16 fma16(Vec16 a, Vec16 b, Vec16 c) {
  return a * b + c;
}
inline Vec16 max16(Vec16 a, Vec16 b) {
  return a > b ? a : b;
}
inline Vec16 zero16() {
  return Vec16{};
}
#endif

}  // namespace tessera::models::infer::TESSERA_KERNEL_ISA
