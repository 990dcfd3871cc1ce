// The reference ops are the oracle for every other backend, so they are
// checked against first principles: gradients against finite differences,
// forward results against hand-computed values.
#include "models/ops/reference/reference_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/support/tensor_util.h"

namespace tessera::models {
namespace {
using testing::dot;
using testing::gradientError;
using testing::randomTensor;

TEST(ReferenceOps, ConvForwardMatchesHandComputation) {
  Tensor x = Tensor::zeros({1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) x.data()[i] = static_cast<float>(i + 1);
  Tensor w = Tensor::zeros({1, 1, 3, 3});
  w.fill(1.0f);
  Tensor b = Tensor::zeros({1, 1, 1, 1});
  b.fill(0.5f);
  const Tensor y = ref::conv2d(x, w, &b, 1, 1);
  EXPECT_FLOAT_EQ(y.at(0, 0, 1, 1), 45.5f);                 // all nine
  EXPECT_FLOAT_EQ(y.at(0, 0, 0, 0), 1 + 2 + 4 + 5 + 0.5f);  // corner sees four
}

TEST(ReferenceOps, ConvGradientsMatchFiniteDifferences) {
  for (int stride : {1, 2}) {
    Tensor x = randomTensor({2, 3, 6, 6}, 1);
    Tensor w = randomTensor({4, 3, 3, 3}, 2);
    Tensor b = randomTensor({1, 4, 1, 1}, 3);
    const Tensor r = randomTensor(ref::conv2d(x, w, &b, stride, 1).shape(), 4);
    Tensor dx, dw, db;
    ref::conv2dBackward(x, w, r, stride, 1, &dx, &dw, &db);
    // The loss is linear in each argument, so large steps are exact and keep
    // float rounding out of the comparison.
    auto loss = [&] { return dot(ref::conv2d(x, w, &b, stride, 1), r); };
    EXPECT_LT(gradientError(x, dx, loss, 0.1f), 1e-4) << "stride " << stride;
    EXPECT_LT(gradientError(w, dw, loss, 0.1f), 1e-4);
    EXPECT_LT(gradientError(b, db, loss, 0.1f), 1e-4);
  }
}

TEST(ReferenceOps, ConvTransposeForwardAndGradients) {
  Tensor x = randomTensor({2, 3, 3, 4}, 5);
  Tensor w = randomTensor({3, 2, 2, 2}, 6);
  Tensor b = randomTensor({1, 2, 1, 1}, 7);
  const Tensor y = ref::convTranspose2x2(x, w, &b);
  ASSERT_EQ(y.shape(), (Shape{2, 2, 6, 8}));
  double expected = b.at(0, 1, 0, 0);
  for (int ic = 0; ic < 3; ++ic) expected += x.at(1, ic, 2, 3) * w.at(ic, 1, 1, 0);
  EXPECT_NEAR(y.at(1, 1, 5, 6), expected, 1e-5);
  const Tensor r = randomTensor(y.shape(), 8);
  Tensor dx, dw, db;
  ref::convTranspose2x2Backward(x, w, r, &dx, &dw, &db);
  auto loss = [&] { return dot(ref::convTranspose2x2(x, w, &b), r); };
  EXPECT_LT(gradientError(x, dx, loss), 1e-3);
  EXPECT_LT(gradientError(w, dw, loss), 1e-3);
  EXPECT_LT(gradientError(b, db, loss), 1e-3);
}

// The general transposed convolution with kernel = stride = 2 is the U-Net's
// 2×2 up-convolution; with a 3×3 kernel, stride 2, padding 1 and output
// padding 1 (MONAI's UNet) one output pixel is checked by hand.
TEST(ReferenceOps, GeneralConvTransposeMatchesTheUpConvAndHandComputation) {
  const Tensor x = randomTensor({2, 3, 3, 4}, 31), w2 = randomTensor({3, 2, 2, 2}, 32);
  const Tensor b = randomTensor({1, 2, 1, 1}, 33);
  EXPECT_EQ(maxAbsoluteDifference(ref::convTranspose(x, w2, &b, {2, 2, 0, 0}),
                                  ref::convTranspose2x2(x, w2, &b)),
            0.0);
  const Tensor w3 = randomTensor({3, 2, 3, 3}, 34);
  const Tensor y = ref::convTranspose(x, w3, &b, {3, 2, 1, 1});
  ASSERT_EQ(y.shape(), (Shape{2, 2, 6, 8}));
  // y[1, 1, 3, 2] gathers x[iy, ix] with 2·iy + ky − 1 = 3 and 2·ix + kx − 1 = 2.
  double expected = b.at(0, 1, 0, 0);
  for (int ic = 0; ic < 3; ++ic)
    for (auto [iy, ky] : {std::pair{1, 2}, std::pair{2, 0}})
      expected += double(x.at(1, ic, iy, 1)) * w3.at(ic, 1, ky, 1);
  EXPECT_NEAR(y.at(1, 1, 3, 2), expected, 1e-5);
}

TEST(ReferenceOps, InstanceNormGivesEachPlaneTheAffineMeanAndScale) {
  const Tensor x = randomTensor({2, 3, 5, 7}, 35);
  Tensor gamma = Tensor::zeros({1, 3, 1, 1}), beta = Tensor::zeros({1, 3, 1, 1});
  for (int c = 0; c < 3; ++c) {
    gamma.at(0, c, 0, 0) = 0.5f + c;
    beta.at(0, c, 0, 0) = -1.0f + c;
  }
  const Tensor y = ref::instanceNorm(x, gamma, beta, 1e-5f);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c) {
      double sum = 0, squares = 0;
      for (int h = 0; h < 5; ++h)
        for (int w = 0; w < 7; ++w) sum += y.at(n, c, h, w);
      const double mean = sum / 35;
      for (int h = 0; h < 5; ++h)
        for (int w = 0; w < 7; ++w) squares += std::pow(y.at(n, c, h, w) - mean, 2);
      EXPECT_NEAR(mean, beta.at(0, c, 0, 0), 1e-5);
      EXPECT_NEAR(std::sqrt(squares / 35), gamma.at(0, c, 0, 0), 1e-3);
    }
}

TEST(ReferenceOps, LeakyReluAndPreluScaleOnlyNegativeValues) {
  const Tensor x = randomTensor({1, 2, 3, 3}, 36);
  Tensor slope = Tensor::zeros({1, 2, 1, 1});
  slope.at(0, 0, 0, 0) = 0.1f;
  slope.at(0, 1, 0, 0) = 0.25f;
  const Tensor leaky = ref::leakyRelu(x, 0.1f), p = ref::prelu(x, slope);
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 3; ++h)
      for (int w = 0; w < 3; ++w) {
        const float v = x.at(0, c, h, w);
        EXPECT_EQ(leaky.at(0, c, h, w), v >= 0 ? v : 0.1f * v);
        EXPECT_EQ(p.at(0, c, h, w), v >= 0 ? v : slope.at(0, c, 0, 0) * v);
      }
}

TEST(ReferenceOps, ResizeFollowsOnnxCoordinates) {
  const Tensor x = randomTensor({1, 2, 3, 4}, 37);
  const Tensor nearest = ref::resize(x, {2, 2, ResizeMode::kNearest});
  ASSERT_EQ(nearest.shape(), (Shape{1, 2, 6, 8}));
  EXPECT_EQ(nearest.at(0, 1, 5, 3), x.at(0, 1, 2, 1));
  // Half-pixel centres: output 1 of a ×2 axis samples source 0.25.
  const Tensor linear = ref::resize(x, {2, 2, ResizeMode::kLinear});
  EXPECT_NEAR(linear.at(0, 0, 0, 1), 0.75 * x.at(0, 0, 0, 0) + 0.25 * x.at(0, 0, 0, 1), 1e-6);
  EXPECT_NEAR(linear.at(0, 0, 0, 0), x.at(0, 0, 0, 0), 1e-6);  // clamped at the edge
  // Aligned corners: the last output pixel is the last input pixel.
  const Tensor aligned = ref::resize(x, {2, 2, ResizeMode::kLinearAlignCorners});
  EXPECT_NEAR(aligned.at(0, 1, 5, 7), x.at(0, 1, 2, 3), 1e-6);
  EXPECT_NEAR(aligned.at(0, 1, 0, 0), x.at(0, 1, 0, 0), 1e-6);
}

TEST(ReferenceOps, MaxPoolPicksMaximaAndRoutesGradients) {
  Tensor x = randomTensor({2, 2, 4, 6}, 9);
  const Tensor y = ref::maxPool2x2(x);
  EXPECT_FLOAT_EQ(y.at(1, 1, 1, 2), std::max(std::max(x.at(1, 1, 2, 4), x.at(1, 1, 2, 5)),
                                             std::max(x.at(1, 1, 3, 4), x.at(1, 1, 3, 5))));
  const Tensor r = randomTensor(y.shape(), 10);
  const Tensor dx = ref::maxPool2x2Backward(x, r);
  EXPECT_LT(gradientError(
                x, dx, [&] { return dot(ref::maxPool2x2(x), r); }, 1e-3f),
            1e-3);
}

TEST(ReferenceOps, ReluForwardAndGradient) {
  Tensor x = randomTensor({1, 2, 3, 3}, 11);
  const Tensor y = ref::relu(x);
  for (std::int64_t i = 0; i < x.shape().count(); ++i)
    EXPECT_EQ(y.data()[i], x.data()[i] > 0 ? x.data()[i] : 0.0f);
  const Tensor r = randomTensor(y.shape(), 12);
  const Tensor dx = ref::reluBackward(y, r);
  EXPECT_LT(gradientError(
                x, dx, [&] { return dot(ref::relu(x), r); }, 1e-4f),
            1e-3);
}

// add has no backward op: the network passes dy to both inputs. The
// finite-difference check confirms that this is the gradient.
TEST(ReferenceOps, AddIsTheElementwiseSumWithIdentityGradient) {
  std::uint64_t seed = 80;
  for (const Shape& s : {Shape{1, 3, 2, 5}, Shape{2, 20, 3, 3}}) {
    SCOPED_TRACE(s.str() + " seed " + std::to_string(seed + 1));
    Tensor a = randomTensor(s, ++seed), b = randomTensor(s, ++seed, 3.0f);
    const Tensor y = ref::add(a, b);
    ASSERT_EQ(y.shape(), s);
    for (std::int64_t n = 0; n < s.n; ++n)
      for (std::int64_t c = 0; c < s.c; ++c)
        for (std::int64_t h = 0; h < s.h; ++h)
          for (std::int64_t w = 0; w < s.w; ++w)
            EXPECT_EQ(y.at(n, c, h, w), a.at(n, c, h, w) + b.at(n, c, h, w));
    const Tensor r = randomTensor(s, ++seed);
    auto loss = [&] { return dot(ref::add(a, b), r); };
    EXPECT_LT(gradientError(a, r, loss, 0.1f), 1e-4);
    EXPECT_LT(gradientError(b, r, loss, 0.1f), 1e-4);
  }
}

TEST(ReferenceOps, ConcatAndSplitAreInverse) {
  Tensor a = randomTensor({2, 3, 2, 2}, 13), b = randomTensor({2, 5, 2, 2}, 14);
  const Tensor ab = ref::concat(a, b);
  EXPECT_EQ(ab.at(1, 4, 1, 0), b.at(1, 1, 1, 0));
  Tensor a2, b2;
  ref::split(ab, 3, &a2, &b2);
  EXPECT_EQ(maxAbsoluteDifference(a2, a), 0.0);
  EXPECT_EQ(maxAbsoluteDifference(b2, b), 0.0);
}

TEST(ReferenceOps, BatchNormNormalisesAndHasCorrectGradients) {
  Tensor x = randomTensor({3, 4, 3, 3}, 15, 2.0f);
  Tensor gamma = randomTensor({1, 4, 1, 1}, 16);
  Tensor beta = randomTensor({1, 4, 1, 1}, 17);
  BatchNormState saved;
  Tensor unit = Tensor::zeros({1, 4, 1, 1});
  unit.fill(1.0f);
  const Tensor y = ref::batchNormTrain(x, unit, Tensor::zeros({1, 4, 1, 1}), 1e-5f, &saved);
  for (int c = 0; c < 4; ++c) {
    double sum = 0, sq = 0;
    for (int n = 0; n < 3; ++n)
      for (int i = 0; i < 9; ++i) {
        const double v = y.at(n, c, i / 3, i % 3);
        sum += v;
        sq += v * v;
      }
    EXPECT_NEAR(sum / 27, 0.0, 1e-5);
    EXPECT_NEAR(sq / 27, 1.0, 1e-3);
  }
  const Tensor r = randomTensor(x.shape(), 18);
  Tensor dx, dg, db;
  ref::batchNormTrain(x, gamma, beta, 1e-5f, &saved);
  ref::batchNormBackward(x, gamma, saved, r, &dx, &dg, &db);
  auto loss = [&] {
    BatchNormState s;
    return dot(ref::batchNormTrain(x, gamma, beta, 1e-5f, &s), r);
  };
  EXPECT_LT(gradientError(x, dx, loss, 1e-2f), 2e-3);
  EXPECT_LT(gradientError(gamma, dg, loss), 1e-3);
  EXPECT_LT(gradientError(beta, db, loss), 1e-3);
}

// Apply with the saved statistics is the training-mode output (recomputation
// relies on it); apply with any statistics and inference with running
// statistics follow their formulas, evaluated here in double.
TEST(ReferenceOps, BatchNormApplyAndInferenceFollowTheirFormulas) {
  const Shape s{2, 5, 3, 4};
  const std::uint64_t seed = 90;
  SCOPED_TRACE(s.str() + " seed " + std::to_string(seed));
  const Tensor x = randomTensor(s, seed, 2.0f);
  const Tensor gamma = randomTensor({1, s.c, 1, 1}, seed + 1);
  const Tensor beta = randomTensor({1, s.c, 1, 1}, seed + 2);
  BatchNormState batch;
  const Tensor trained = ref::batchNormTrain(x, gamma, beta, 1e-5f, &batch);
  EXPECT_EQ(maxAbsoluteDifference(ref::batchNormApply(x, gamma, beta, batch), trained), 0.0);

  const Tensor mean = randomTensor({1, s.c, 1, 1}, seed + 3);
  Tensor var = randomTensor({1, s.c, 1, 1}, seed + 4);
  for (std::int64_t c = 0; c < s.c; ++c) var.data()[c] = 0.5f + var.data()[c] * var.data()[c];
  const float eps = 1e-3f;
  BatchNormState given;
  for (std::int64_t c = 0; c < s.c; ++c) {
    given.mean.push_back(mean.data()[c]);
    given.invStd.push_back(static_cast<float>(1.0 / std::sqrt(double(var.data()[c]) + eps)));
  }
  const Tensor applied = ref::batchNormApply(x, gamma, beta, given);
  const Tensor inferred = ref::batchNormInference(x, gamma, beta, mean, var, eps);
  for (std::int64_t n = 0; n < s.n; ++n)
    for (std::int64_t c = 0; c < s.c; ++c)
      for (std::int64_t h = 0; h < s.h; ++h)
        for (std::int64_t w = 0; w < s.w; ++w) {
          const double want = double(gamma.data()[c]) * (x.at(n, c, h, w) - mean.data()[c]) /
                                  std::sqrt(double(var.data()[c]) + eps) +
                              beta.data()[c];
          EXPECT_NEAR(applied.at(n, c, h, w), want, 1e-5 * (1 + std::abs(want)));
          EXPECT_NEAR(inferred.at(n, c, h, w), want, 1e-5 * (1 + std::abs(want)));
        }
}

TEST(ReferenceOps, AttentionIsResidualAndHasCorrectGradients) {
  Tensor x = randomTensor({2, 4, 3, 3}, 20);
  Tensor ws[4], bs[4];
  for (int i = 0; i < 4; ++i) {
    ws[i] = randomTensor({4, 4, 1, 1}, 21 + i, 0.7f);
    bs[i] = randomTensor({1, 4, 1, 1}, 31 + i, 0.2f);
  }
  AttentionWeights p{&ws[0], &bs[0], &ws[1], &bs[1], &ws[2], &bs[2], &ws[3], &bs[3], 2};
  // With a zero output projection the block is the identity.
  Tensor zeroW = Tensor::zeros({4, 4, 1, 1}), zeroB = Tensor::zeros({1, 4, 1, 1});
  AttentionWeights identity = p;
  identity.wo = &zeroW;
  identity.bo = &zeroB;
  EXPECT_EQ(maxAbsoluteDifference(ref::attention(x, identity), x), 0.0);

  const Tensor r = randomTensor(x.shape(), 40);
  for (bool masked : {false, true}) {
    std::vector<std::uint8_t> mask(2 * 9, 1);
    mask[1] = mask[4] = mask[9 + 8] = 0;
    const std::vector<std::uint8_t>* m = masked ? &mask : nullptr;
    AttentionGradients g;
    const Tensor dx = ref::attentionBackward(x, p, r, &g, m);
    auto loss = [&] { return dot(ref::attention(x, p, m), r); };
    EXPECT_LT(gradientError(x, dx, loss), 2e-3) << "masked " << masked;
    EXPECT_LT(gradientError(ws[0], g.dwq, loss), 2e-3);
    EXPECT_LT(gradientError(ws[1], g.dwk, loss), 2e-3);
    EXPECT_LT(gradientError(ws[2], g.dwv, loss), 2e-3);
    EXPECT_LT(gradientError(ws[3], g.dwo, loss), 2e-3);
    EXPECT_LT(gradientError(bs[0], g.dbq, loss), 2e-3);
    EXPECT_LT(gradientError(bs[2], g.dbv, loss), 2e-3);
    EXPECT_LT(gradientError(bs[3], g.dbo, loss), 2e-3);
  }
}

TEST(ReferenceOps, MaskedAttentionIgnoresInactiveTokens) {
  Tensor x = randomTensor({1, 4, 2, 2}, 50);
  Tensor ws[4], bs[4];
  for (int i = 0; i < 4; ++i) {
    ws[i] = randomTensor({4, 4, 1, 1}, 51 + i);
    bs[i] = randomTensor({1, 4, 1, 1}, 61 + i);
  }
  AttentionWeights p{&ws[0], &bs[0], &ws[1], &bs[1], &ws[2], &bs[2], &ws[3], &bs[3], 1};
  std::vector<std::uint8_t> mask{1, 1, 0, 1};
  const Tensor y = ref::attention(x, p, &mask);
  for (int c = 0; c < 4; ++c) EXPECT_EQ(y.at(0, c, 1, 0), x.at(0, c, 1, 0));
  // Changing an inactive token does not change active outputs.
  Tensor x2 = x.clone();
  for (int c = 0; c < 4; ++c) x2.at(0, c, 1, 0) += 3.0f;
  const Tensor y2 = ref::attention(x2, p, &mask);
  for (int c = 0; c < 4; ++c) EXPECT_EQ(y.at(0, c, 0, 1), y2.at(0, c, 0, 1));
}

TEST(ReferenceOps, LossGradientMatchesFiniteDifferences) {
  Tensor logits = randomTensor({2, 4, 3, 3}, 70, 2.0f);
  Tensor labels = Tensor::zeros({2, 1, 3, 3});
  for (std::int64_t i = 0; i < labels.shape().count(); ++i) labels.data()[i] = float(i % 3);
  for (double diceWeight : {0.0, 1.0}) {
    Tensor d;
    ref::crossEntropyDiceLoss(logits, labels, diceWeight, &d);
    auto loss = [&] {
      Tensor ignored;
      return ref::crossEntropyDiceLoss(logits, labels, diceWeight, &ignored);
    };
    EXPECT_LT(gradientError(logits, d, loss, 1e-3f), 2e-3) << "dice weight " << diceWeight;
  }
}

TEST(ReferenceOps, DistillationGradientMatchesFiniteDifferences) {
  Tensor student = randomTensor({2, 4, 3, 3}, 71, 2.0f);
  const Tensor teacher = randomTensor({2, 4, 3, 3}, 72, 3.0f);
  for (double temperature : {1.0, 4.0}) {
    Tensor d;
    ref::distillationLoss(student, teacher, temperature, &d);
    auto loss = [&] {
      Tensor ignored;
      return ref::distillationLoss(student, teacher, temperature, &ignored);
    };
    EXPECT_LT(gradientError(student, d, loss, 1e-3f), 2e-3) << "temperature " << temperature;
  }
}

// KL is zero exactly when the distributions agree (logits equal up to a
// per-pixel shift), positive otherwise; at T = 1 it is the teacher-weighted
// cross-entropy minus the teacher's entropy.
TEST(ReferenceOps, DistillationIsZeroOnlyForTheTeachersDistribution) {
  const Tensor teacher = randomTensor({1, 5, 2, 3}, 73, 3.0f);
  Tensor shifted = teacher.clone();
  for (std::int64_t c = 0; c < 5; ++c)
    for (std::int64_t h = 0; h < 2; ++h)
      for (std::int64_t w = 0; w < 3; ++w) shifted.at(0, c, h, w) += float(h - 2 * w);
  Tensor d;
  EXPECT_NEAR(ref::distillationLoss(shifted, teacher, 2.0, &d), 0.0, 1e-9);
  for (std::int64_t i = 0; i < d.shape().count(); ++i) EXPECT_NEAR(d.data()[i], 0.0f, 1e-7f);
  const Tensor other = randomTensor({1, 5, 2, 3}, 74, 3.0f);
  const double kl = ref::distillationLoss(other, teacher, 1.0, &d);
  EXPECT_GT(kl, 0.0);
  const Tensor q = ref::softmax(teacher), p = ref::softmax(other);
  double expected = 0;
  for (std::int64_t c = 0; c < 5; ++c)
    for (std::int64_t h = 0; h < 2; ++h)
      for (std::int64_t w = 0; w < 3; ++w)
        expected += q.at(0, c, h, w) *
                    (std::log(double(q.at(0, c, h, w))) - std::log(double(p.at(0, c, h, w))));
  EXPECT_NEAR(kl, expected / 6, 1e-5);
}

TEST(ReferenceOps, PerfectPredictionHasNearZeroLoss) {
  Tensor labels = Tensor::zeros({1, 1, 4, 4});
  for (int i = 0; i < 16; ++i) labels.data()[i] = float(i % 2);
  Tensor logits = Tensor::zeros({1, 2, 4, 4});
  for (int i = 0; i < 16; ++i) logits.at(0, i % 2, i / 4, i % 4) = 30.0f;
  Tensor d;
  EXPECT_LT(ref::crossEntropyDiceLoss(logits, labels, 1.0, &d), 0.1);
  EXPECT_EQ(ref::argmax(logits).at(0, 0, 0, 1), 1.0f);
}

TEST(ReferenceOps, SoftmaxIsANormalisedShiftInvariantDistribution) {
  const Tensor logits = randomTensor({2, 6, 3, 4}, 95, 5.0f);
  Tensor shifted = logits.clone();
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t h = 0; h < 3; ++h)
      for (std::int64_t w = 0; w < 4; ++w)
        for (std::int64_t c = 0; c < 6; ++c) shifted.at(n, c, h, w) += float(3 * n + h - w);
  const Tensor p = ref::softmax(logits), q = ref::softmax(shifted);
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t h = 0; h < 3; ++h)
      for (std::int64_t w = 0; w < 4; ++w) {
        SCOPED_TRACE("pixel " + std::to_string(n) + "," + std::to_string(h) + "," +
                     std::to_string(w));
        double total = 0;
        for (std::int64_t c = 0; c < 6; ++c) {
          EXPECT_GT(p.at(n, c, h, w), 0.0f);
          EXPECT_NEAR(p.at(n, c, h, w), q.at(n, c, h, w), 1e-6);
          total += p.at(n, c, h, w);
          // Ratios of probabilities are exponentials of logit differences.
          EXPECT_NEAR(std::log(double(p.at(n, c, h, w)) / p.at(n, 0, h, w)),
                      double(logits.at(n, c, h, w)) - logits.at(n, 0, h, w), 1e-5);
        }
        EXPECT_NEAR(total, 1.0, 1e-6);
      }
}

// Logits rounded to integers tie often: the first of the largest channels wins.
TEST(ReferenceOps, ArgmaxTakesTheFirstLargestChannel) {
  std::uint64_t seed = 96;
  for (const Shape& s : {Shape{1, 2, 3, 3}, Shape{2, 10, 4, 5}}) {
    SCOPED_TRACE(s.str() + " seed " + std::to_string(seed + 1));
    Tensor logits = randomTensor(s, ++seed, 2.0f);
    for (std::int64_t i = 0; i < s.count(); ++i) logits.data()[i] = std::round(logits.data()[i]);
    const Tensor am = ref::argmax(logits);
    ASSERT_EQ(am.shape(), (Shape{s.n, 1, s.h, s.w}));
    for (std::int64_t n = 0; n < s.n; ++n)
      for (std::int64_t h = 0; h < s.h; ++h)
        for (std::int64_t w = 0; w < s.w; ++w) {
          std::vector<float> scores;
          for (std::int64_t c = 0; c < s.c; ++c) scores.push_back(logits.at(n, c, h, w));
          const auto first = std::max_element(scores.begin(), scores.end()) - scores.begin();
          EXPECT_EQ(am.at(n, 0, h, w), static_cast<float>(first)) << n << "," << h << "," << w;
        }
  }
}

TEST(ReferenceOps, LabelDownsamplingTakesTheMajority) {
  Tensor labels = Tensor::zeros({1, 1, 4, 4});
  labels.at(0, 0, 0, 0) = 3;
  labels.at(0, 0, 0, 1) = 3;
  labels.at(0, 0, 1, 0) = 3;
  labels.at(0, 0, 2, 2) = 5;
  const Tensor down = ref::downsampleLabels(labels, 2);
  EXPECT_EQ(down.at(0, 0, 0, 0), 3.0f);
  EXPECT_EQ(down.at(0, 0, 1, 1), 0.0f);
}

}  // namespace
}  // namespace tessera::models
