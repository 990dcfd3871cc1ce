#include "core/random.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>

namespace tessera {
namespace {

// Outputs of the reference implementation (Vigna's splitmix64.c, the
// generator of Steele, Lea and Flood) as published for these seeds.
TEST(Random, SplitMix64MatchesThePublishedSequences) {
  SplitMix64 zero(0);
  EXPECT_EQ(zero.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(zero.next(), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(zero.next(), 0x06C45D188009454Full);

  SplitMix64 g(1234567);
  for (std::uint64_t expected :
       {6457827717110365317ull, 3203168211198807973ull, 9817491932198370423ull,
        4593380528125082431ull, 16408922859458223821ull})
    EXPECT_EQ(g.next(), expected);
}

TEST(Random, MixIsTheGeneratorsOutputAtAnyPosition) {
  static_assert(splitMix64(0) == 0xE220A8397B1DCDAFull, "usable in constant expressions");
  for (std::uint64_t seed : {0ull, 1ull, 7ull, 0xDEADBEEFull, ~0ull}) {
    SplitMix64 g(seed);
    // The (n + 1)-th output from `seed` is splitMix64(seed + n·γ), the form
    // in which per-sample seeds are derived without stepping a generator.
    for (std::uint64_t n = 0; n < 100; ++n)
      ASSERT_EQ(g.next(), splitMix64(seed + n * kSplitMix64Gamma)) << "seed " << seed << " n " << n;
  }
}

TEST(Random, UnitDoubleIsExactAt53Bits) {
  EXPECT_EQ(unitDouble(0), 0.0);
  EXPECT_EQ(unitDouble(~0ull), 1.0 - 0x1.0p-53);
  EXPECT_LT(unitDouble(~0ull), 1.0);
  EXPECT_EQ(unitDouble(std::uint64_t{1} << 11), 0x1.0p-53);
  EXPECT_EQ(unitDouble(std::uint64_t{1} << 63), 0.5);
  // The low 11 bits do not matter.
  EXPECT_EQ(unitDouble(0x7FFull), 0.0);
  EXPECT_EQ(unitDouble(0x123456789ABCDEF0ull), unitDouble(0x123456789ABCD800ull));
  // Exact: scaling back gives the top 53 bits as an integer.
  const std::uint64_t bits = 0xFEDCBA9876543210ull;
  EXPECT_EQ(static_cast<std::uint64_t>(unitDouble(bits) * 0x1.0p53), bits >> 11);
}

TEST(Random, UniformStaysInTheHalfOpenUnitInterval) {
  constexpr std::uint64_t kSeed = 42;
  constexpr int kDraws = 100000;
  SplitMix64 g(kSeed);
  std::set<double> seen;
  double sum = 0, below = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double u = g.uniform();
    ASSERT_GE(u, 0.0) << "seed " << kSeed << " draw " << i;
    ASSERT_LT(u, 1.0) << "seed " << kSeed << " draw " << i;
    sum += u;
    below += u < 0.25;
    seen.insert(u);
  }
  // Mean 1/2 and P(u < 1/4) = 1/4, each within about 5 standard errors.
  EXPECT_NEAR(sum / kDraws, 0.5, 0.005) << "seed " << kSeed;
  EXPECT_NEAR(below / kDraws, 0.25, 0.007) << "seed " << kSeed;
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kDraws)) << "seed " << kSeed;
}

}  // namespace
}  // namespace tessera
