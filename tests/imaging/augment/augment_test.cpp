#include "imaging/augment/augment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace tessera::imaging {
namespace {

// A 128² source whose two planes hold each pixel's own x and y (in HU), so
// that an output pixel's values say where it was sampled from; labels are
// 16-pixel squares of a checkerboard.
struct Source {
  static constexpr int kSide = 128;
  std::vector<float> x, y;
  std::vector<std::uint8_t> labels;
  Source() : x(kSide * kSide), y(kSide * kSide), labels(kSide * kSide) {
    for (int j = 0; j < kSide; ++j)
      for (int i = 0; i < kSide; ++i) {
        x[j * kSide + i] = float(i);
        y[j * kSide + i] = float(j);
        labels[j * kSide + i] = std::uint8_t(1 + ((i / 16 + j / 16) % 2));
      }
  }
};

struct Crop {
  static constexpr int kSide = 64;
  std::vector<float> x = std::vector<float>(kSide * kSide), y = x;
  std::vector<std::uint8_t> labels = std::vector<std::uint8_t>(kSide * kSide);
};

Crop augment(const Source& s, const AugmentParams& p) {
  Crop c;
  augmentSlices({s.x.data(), s.y.data()}, s.labels.data(), Source::kSide, Source::kSide, p,
                Crop::kSide, Crop::kSide, {c.x.data(), c.y.data()}, c.labels.data());
  return c;
}

AugmentParams centred() {
  AugmentParams p;
  p.centreX = p.centreY = (Source::kSide - 1) / 2.0;
  p.noiseSeed = 11;
  return p;
}

TEST(Augment, ElasticDeformationDisplacesByTheAskedRmsAndMovesLabelsWithTheImage) {
  const Source source;
  AugmentParams p = centred();
  p.elasticPx = 3;
  p.elasticSigmaPx = 12;
  const Crop c = augment(source, p);
  // Without deformation output (u, v) samples source (u + 32, v + 32).
  const double offset = (Source::kSide - Crop::kSide) / 2.0;
  double power = 0;
  int agreeing = 0, interior = 0;
  for (int v = 0; v < Crop::kSide; ++v)
    for (int u = 0; u < Crop::kSide; ++u) {
      const int k = v * Crop::kSide + u;
      const double dx = c.x[k] - (u + offset), dy = c.y[k] - (v + offset);
      power += dx * dx + dy * dy;
      // The label must be that of the source pixel the image was sampled at.
      const int i = int(std::lround(c.x[k])), j = int(std::lround(c.y[k]));
      if (i % 16 == 0 || i % 16 == 15 || j % 16 == 0 || j % 16 == 15) continue;
      ++interior;
      agreeing += c.labels[k] == source.labels[j * Source::kSide + i];
    }
  const double rms = std::sqrt(power / (Crop::kSide * Crop::kSide));
  EXPECT_GT(rms, 3 * 0.7);
  EXPECT_LT(rms, 3 * 1.3);
  ASSERT_GT(interior, 1000);
  EXPECT_EQ(agreeing, interior);
}

TEST(Augment, ElasticFieldIsSmoothAndDeterministicFromTheSeed) {
  const Source source;
  AugmentParams p = centred();
  p.elasticPx = 4;
  p.elasticSigmaPx = 16;
  const Crop a = augment(source, p), b = augment(source, p);
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.labels, b.labels);
  // Neighbouring pixels move almost together: a smooth field, not jitter
  // (independent displacements of 4 px RMS would differ by several pixels).
  double step = 0;
  for (int v = 0; v < Crop::kSide; ++v)
    for (int u = 1; u < Crop::kSide; ++u) {
      const int k = v * Crop::kSide + u;
      step = std::max(step, std::abs((a.x[k] - a.x[k - 1]) - 1.0));
    }
  EXPECT_LT(step, 1.0);
  p.noiseSeed = 12;
  EXPECT_NE(augment(source, p).x, a.x);
}

TEST(Augment, WithoutElasticDeformationTheCropIsTheAffineMapExactly) {
  const Source source;
  const Crop c = augment(source, centred());
  const double offset = (Source::kSide - Crop::kSide) / 2.0;
  for (int v = 0; v < Crop::kSide; ++v)
    for (int u = 0; u < Crop::kSide; ++u) {
      ASSERT_NEAR(c.x[v * Crop::kSide + u], u + offset, 1e-3);
      ASSERT_NEAR(c.y[v * Crop::kSide + u], v + offset, 1e-3);
    }
}

}  // namespace
}  // namespace tessera::imaging
