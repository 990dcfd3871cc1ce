// Reproducible random numbers: SplitMix64 (Steele, Lea and Flood, "Fast
// splittable pseudorandom number generators", OOPSLA 2014; the finaliser
// is Stafford's "Mix13") and the exact conversion of 53 random bits to a
// double in [0, 1). Integer arithmetic and exactly representable
// conversions only, so a seed gives the same numbers with every compiler
// and standard library (unlike std::*_distribution, whose output differs
// between them). Phantoms and training samples depend on these values bit
// for bit: changing them changes every generated case.
#pragma once

#include <cstdint>

namespace tessera {

// The golden-ratio increment of SplitMix64's state, 2^64 / φ rounded to odd.
inline constexpr std::uint64_t kSplitMix64Gamma = 0x9E3779B97F4A7C15ull;

// SplitMix64's output function of its state after one step: (x + γ) mixed
// by a bijection of 64-bit words. Also a good 64-bit hash of x.
constexpr std::uint64_t splitMix64(std::uint64_t x) {
  x += kSplitMix64Gamma;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The top 53 bits of `bits` as a double in [0, 1): every value a multiple
// of 2^-53, exact (no rounding), 0 for 0 and 1 - 2^-53 for ~0.
constexpr double unitDouble(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

// The SplitMix64 generator: the n-th output (n = 1, 2, ...) from seed s is
// splitMix64(s + (n - 1)·γ). Not for cryptography.
class SplitMix64 {
 public:
  explicit constexpr SplitMix64(std::uint64_t seed) : state_(seed) {}
  constexpr std::uint64_t next() {
    const std::uint64_t out = splitMix64(state_);
    state_ += kSplitMix64Gamma;
    return out;
  }
  // [0, 1) with 53 random bits.
  constexpr double uniform() { return unitDouble(next()); }

 private:
  std::uint64_t state_;
};

}  // namespace tessera
