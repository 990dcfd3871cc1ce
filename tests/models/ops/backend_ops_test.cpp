// Every op of the CPU backend against the reference backend, forward and
// backward, in the spirit of ggml's test-backend-ops: channel counts that do
// and do not fill 16-channel blocks (3, 10, 16, 20, 48), odd spatial sizes
// where the op allows them, batches of 1 to 3. The reference accumulates in
// double (and is itself checked against finite differences in
// reference_ops_test.cpp), the CPU backend in float; differences are
// measured relative to the largest magnitude of the expected tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/parallel.h"
#include "models/backend/backend.h"
#include "models/net/unet.h"
#include "tests/support/tensor_util.h"

namespace tessera::models {
namespace {
using testing::randomTensor;

class BackendOps : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> cpu = makeCpuBackend();
  std::unique_ptr<Backend> ref = makeReferenceBackend();

  Tensor in(const Tensor& nchw) { return cpu->fromNCHW(nchw); }
};

// max |a − b| / max |b|: float accumulation error scales with the size of
// the values, so this is the quantity a float implementation bounds.
double scaledDifference(const Tensor& a, const Tensor& b) {
  const Tensor a0 = a.to(Layout::kNCHW), b0 = b.to(Layout::kNCHW);
  EXPECT_EQ(a0.shape(), b0.shape());
  double scale = 0;
  for (std::int64_t i = 0; i < b0.shape().count(); ++i)
    scale = std::max(scale, static_cast<double>(std::abs(b0.data()[i])));
  return maxAbsoluteDifference(a0, b0) / std::max(scale, 1e-30);
}

// The CPU backend's invariant: channel padding of kBlocked16 outputs is zero
// (oneDNN requires it of its inputs, and concat/split rely on it).
bool paddingIsZero(const Tensor& t) {
  if (t.layout() != Layout::kBlocked16) return true;
  const std::int64_t padded = paddedChannels(t.c()), hw = t.h() * t.w();
  for (std::int64_t n = 0; n < t.n(); ++n)
    for (std::int64_t c = t.c(); c < padded; ++c)
      for (std::int64_t p = 0; p < hw; ++p)
        if (t.data()[((n * padded / kChannelBlock + c / kChannelBlock) * hw + p) * kChannelBlock +
                     c % kChannelBlock] != 0.0f)
          return false;
  return true;
}

double largest(const Tensor& t) {
  const Tensor plain = t.to(Layout::kNCHW);
  double m = 0;
  for (std::int64_t i = 0; i < plain.shape().count(); ++i)
    m = std::max(m, static_cast<double>(std::abs(plain.data()[i])));
  return m;
}

bool bitIdentical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.layout() == b.layout() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.bytes())) == 0;
}

// Tolerance for conv-like ops: float sums of at most a few hundred products
// of O(1) values lose ~1e-6 relative; 1e-4 leaves room, and an indexing or
// layout bug is off by O(1).
constexpr double kConvTolerance = 1e-4;

struct ConvCase {
  Shape x;
  std::int64_t cout;
  int k, stride, pad;
  bool bias;
};

TEST_F(BackendOps, Conv2dMatchesReference) {
  const ConvCase cases[] = {
      {{1, 3, 7, 9}, 10, 3, 1, 1, true},  {{3, 10, 6, 5}, 20, 3, 1, 1, false},
      {{1, 20, 8, 8}, 48, 1, 1, 0, true}, {{3, 48, 5, 7}, 16, 3, 1, 1, true},
      {{2, 16, 9, 8}, 20, 3, 2, 1, true}, {{1, 3, 8, 8}, 10, 3, 2, 1, false},
      {{2, 16, 4, 4}, 3, 1, 1, 0, true},
  };
  int seed = 100;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE("x " + c.x.str() + " cout " + std::to_string(c.cout) + " k " +
                 std::to_string(c.k) + " stride " + std::to_string(c.stride));
    const Tensor x = randomTensor(c.x, ++seed);
    const Tensor w = randomTensor({c.cout, c.x.c, c.k, c.k}, ++seed, 0.5f);
    const Tensor b = randomTensor({1, c.cout, 1, 1}, ++seed);
    const Tensor* bias = c.bias ? &b : nullptr;
    const Tensor expected = ref->conv2d(x, w, bias, c.stride, c.pad);
    const Tensor y = cpu->conv2d(in(x), w, bias, c.stride, c.pad);
    EXPECT_TRUE(paddingIsZero(y));
    EXPECT_LT(scaledDifference(y, expected), kConvTolerance);

    const Tensor dy = randomTensor(expected.shape(), ++seed);
    Tensor rdx, rdw, rdb, dx, dw, db;
    ref->conv2dBackward(x, w, dy, c.stride, c.pad, &rdx, &rdw, bias ? &rdb : nullptr);
    cpu->conv2dBackward(in(x), w, in(dy), c.stride, c.pad, &dx, &dw, bias ? &db : nullptr);
    EXPECT_TRUE(paddingIsZero(dx));
    EXPECT_EQ(dw.layout(), Layout::kNCHW);
    EXPECT_LT(scaledDifference(dx, rdx), kConvTolerance);
    EXPECT_LT(scaledDifference(dw, rdw), kConvTolerance);
    if (bias) {
      EXPECT_LT(scaledDifference(db, rdb), kConvTolerance);
    }

    // The first layer asks for weight gradients only; dx alone works too.
    Tensor dwOnly, dxOnly;
    cpu->conv2dBackward(in(x), w, in(dy), c.stride, c.pad, nullptr, &dwOnly, nullptr);
    cpu->conv2dBackward(in(x), w, in(dy), c.stride, c.pad, &dxOnly, nullptr, nullptr);
    EXPECT_TRUE(bitIdentical(dwOnly, dw));
    EXPECT_TRUE(bitIdentical(dxOnly, dx));
  }
}

TEST_F(BackendOps, ConvWeightsUpdatedInPlaceAreNeverStale) {
  const Tensor x = randomTensor({1, 16, 6, 6}, 1);
  Tensor w = randomTensor({20, 16, 3, 3}, 2);
  const Tensor first = cpu->conv2d(in(x), w, nullptr, 1, 1);
  // An optimizer step writes the same storage; one weight changes by one ulp.
  w.data()[37] = std::nextafter(w.data()[37], 10.0f);
  const Tensor second = cpu->conv2d(in(x), w, nullptr, 1, 1);
  EXPECT_FALSE(bitIdentical(first, second));
  EXPECT_LT(scaledDifference(second, ref->conv2d(x, w, nullptr, 1, 1)), kConvTolerance);
  for (std::int64_t i = 0; i < w.shape().count(); ++i) w.data()[i] *= -2.0f;
  Tensor dx;
  cpu->conv2dBackward(in(x), w, in(randomTensor(second.shape(), 3)), 1, 1, &dx, nullptr, nullptr);
  Tensor rdx;
  ref->conv2dBackward(x, w, randomTensor(second.shape(), 3), 1, 1, &rdx, nullptr, nullptr);
  EXPECT_LT(scaledDifference(dx, rdx), kConvTolerance);
}

TEST_F(BackendOps, ConvTransposeMatchesReference) {
  const ConvCase cases[] = {{{1, 3, 4, 5}, 10, 2, 2, 0, true},
                            {{3, 20, 3, 3}, 16, 2, 2, 0, false},
                            {{2, 48, 2, 3}, 20, 2, 2, 0, true},
                            {{1, 32, 4, 4}, 16, 2, 2, 0, true}};
  int seed = 200;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE("x " + c.x.str() + " cout " + std::to_string(c.cout));
    const Tensor x = randomTensor(c.x, ++seed);
    const Tensor w = randomTensor({c.x.c, c.cout, 2, 2}, ++seed, 0.5f);
    const Tensor b = randomTensor({1, c.cout, 1, 1}, ++seed);
    const Tensor* bias = c.bias ? &b : nullptr;
    const Tensor expected = ref->convTranspose2x2(x, w, bias);
    const Tensor y = cpu->convTranspose2x2(in(x), w, bias);
    EXPECT_TRUE(paddingIsZero(y));
    EXPECT_LT(scaledDifference(y, expected), kConvTolerance);
    const Tensor dy = randomTensor(expected.shape(), ++seed);
    Tensor rdx, rdw, rdb, dx, dw, db;
    ref->convTranspose2x2Backward(x, w, dy, &rdx, &rdw, bias ? &rdb : nullptr);
    cpu->convTranspose2x2Backward(in(x), w, in(dy), &dx, &dw, bias ? &db : nullptr);
    EXPECT_TRUE(paddingIsZero(dx));
    EXPECT_LT(scaledDifference(dx, rdx), kConvTolerance);
    EXPECT_LT(scaledDifference(dw, rdw), kConvTolerance);
    if (bias) {
      EXPECT_LT(scaledDifference(db, rdb), kConvTolerance);
    }
  }
}

TEST_F(BackendOps, MaxPoolIsExactIncludingTies) {
  int seed = 300;
  for (const Shape& s : {Shape{1, 3, 6, 8}, Shape{3, 20, 4, 4}, Shape{2, 48, 2, 6}}) {
    SCOPED_TRACE(s.str());
    // Values from {-1, 0, 1} make ties common: the gradient must go to the
    // same (first) maximum as in the reference.
    Tensor x = randomTensor(s, ++seed);
    for (std::int64_t i = 0; i < s.count(); ++i) x.data()[i] = std::round(x.data()[i]);
    const Tensor y = cpu->maxPool2x2(in(x));
    EXPECT_TRUE(paddingIsZero(y));
    EXPECT_EQ(maxAbsoluteDifference(y.to(Layout::kNCHW), ref->maxPool2x2(x)), 0.0);
    const Tensor dy = randomTensor(y.shape(), ++seed);
    const Tensor dx = cpu->maxPool2x2Backward(in(x), in(dy));
    EXPECT_TRUE(paddingIsZero(dx));
    EXPECT_EQ(maxAbsoluteDifference(dx.to(Layout::kNCHW), ref->maxPool2x2Backward(x, dy)), 0.0);
  }
}

TEST_F(BackendOps, ReluIsExact) {
  const std::uint64_t seed = 400;
  for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{3, 20, 4, 3}, Shape{2, 16, 3, 3}}) {
    SCOPED_TRACE(s.str() + " seed " + std::to_string(seed));
    const Tensor x = randomTensor(s, seed), dy = randomTensor(s, seed + 1);
    const Tensor y = cpu->relu(in(x));
    EXPECT_TRUE(paddingIsZero(y));
    EXPECT_EQ(maxAbsoluteDifference(y.to(Layout::kNCHW), ref->relu(x)), 0.0);
    const Tensor dx = cpu->reluBackward(y, in(dy));
    EXPECT_TRUE(paddingIsZero(dx));
    EXPECT_EQ(maxAbsoluteDifference(dx.to(Layout::kNCHW), ref->reluBackward(ref->relu(x), dy)),
              0.0);
  }
}

TEST_F(BackendOps, AddIsExact) {
  const std::uint64_t seed = 400;
  for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{3, 20, 4, 3}, Shape{2, 48, 3, 2}}) {
    SCOPED_TRACE(s.str() + " seed " + std::to_string(seed));
    const Tensor x = randomTensor(s, seed), z = randomTensor(s, seed + 2);
    const Tensor sum = cpu->add(in(x), in(z));
    EXPECT_TRUE(paddingIsZero(sum));
    EXPECT_EQ(maxAbsoluteDifference(sum.to(Layout::kNCHW), ref->add(x, z)), 0.0);
  }
}

TEST_F(BackendOps, ConcatAndSplitAreExact) {
  const std::pair<std::int64_t, std::int64_t> channels[] = {
      {3, 20}, {16, 10}, {10, 16}, {48, 3}, {16, 32}};
  int seed = 500;
  for (auto [ca, cb] : channels) {
    SCOPED_TRACE(std::to_string(ca) + " + " + std::to_string(cb));
    const Tensor a = randomTensor({2, ca, 3, 5}, ++seed), b = randomTensor({2, cb, 3, 5}, ++seed);
    const Tensor ab = cpu->concat(in(a), in(b));
    EXPECT_TRUE(paddingIsZero(ab));
    EXPECT_EQ(maxAbsoluteDifference(ab.to(Layout::kNCHW), ref->concat(a, b)), 0.0);
    Tensor a2, b2;
    cpu->split(ab, ca, &a2, &b2);
    EXPECT_TRUE(paddingIsZero(a2));
    EXPECT_TRUE(paddingIsZero(b2));
    EXPECT_EQ(maxAbsoluteDifference(a2.to(Layout::kNCHW), a), 0.0);
    EXPECT_EQ(maxAbsoluteDifference(b2.to(Layout::kNCHW), b), 0.0);
  }
}

// Batch norm: statistics are double sums either way; outputs differ from the
// reference by float rounding of one formula (~1e-7), gradients by float
// versus double evaluation of the backward formula.
TEST_F(BackendOps, BatchNormMatchesReference) {
  int seed = 600;
  for (const Shape& s :
       {Shape{1, 3, 7, 9}, Shape{3, 10, 5, 5}, Shape{2, 20, 4, 6}, Shape{1, 48, 3, 3}}) {
    SCOPED_TRACE(s.str());
    const Tensor x = randomTensor(s, ++seed, 3.0f);
    const Tensor gamma = randomTensor({1, s.c, 1, 1}, ++seed);
    const Tensor beta = randomTensor({1, s.c, 1, 1}, ++seed);
    BatchNormState rs, cs;
    const Tensor expected = ref->batchNormTrain(x, gamma, beta, 1e-5f, &rs);
    const Tensor y = cpu->batchNormTrain(in(x), gamma, beta, 1e-5f, &cs);
    EXPECT_TRUE(paddingIsZero(y));
    EXPECT_LT(scaledDifference(y, expected), 1e-5);
    ASSERT_EQ(cs.mean.size(), rs.mean.size());
    for (std::size_t c = 0; c < rs.mean.size(); ++c) {
      EXPECT_NEAR(cs.mean[c], rs.mean[c], 1e-6 * (1 + std::abs(rs.mean[c])));
      EXPECT_NEAR(cs.invStd[c], rs.invStd[c], 1e-6 * rs.invStd[c]);
    }
    // Recomputation with the saved statistics reproduces training mode bit for bit.
    EXPECT_TRUE(bitIdentical(cpu->batchNormApply(in(x), gamma, beta, cs), y));

    const Tensor dy = randomTensor(s, ++seed);
    Tensor rdx, rdg, rdb, dx, dg, db;
    ref->batchNormBackward(x, gamma, rs, dy, &rdx, &rdg, &rdb);
    cpu->batchNormBackward(in(x), gamma, cs, in(dy), &dx, &dg, &db);
    EXPECT_TRUE(paddingIsZero(dx));
    EXPECT_LT(scaledDifference(dx, rdx), 1e-4);
    EXPECT_LT(scaledDifference(dg, rdg), 1e-5);
    EXPECT_LT(scaledDifference(db, rdb), 1e-5);
  }
}

// Batch norm with given statistics (running statistics at inference, or
// those saved by another step), not the batch's own: one float formula in
// each backend, so outputs agree to rounding.
TEST_F(BackendOps, BatchNormApplyWithGivenStatisticsMatchesReference) {
  int seed = 650;
  for (const Shape& s :
       {Shape{1, 3, 7, 9}, Shape{3, 10, 5, 5}, Shape{2, 16, 4, 4}, Shape{1, 48, 3, 3}}) {
    SCOPED_TRACE(s.str() + " seed " + std::to_string(seed + 1));
    const Tensor x = randomTensor(s, ++seed, 3.0f);
    const Tensor gamma = randomTensor({1, s.c, 1, 1}, ++seed);
    const Tensor beta = randomTensor({1, s.c, 1, 1}, ++seed);
    const Tensor mean = randomTensor({1, s.c, 1, 1}, ++seed);
    const Tensor spread = randomTensor({1, s.c, 1, 1}, ++seed);
    BatchNormState state;
    for (std::int64_t c = 0; c < s.c; ++c) {
      state.mean.push_back(mean.data()[c]);
      state.invStd.push_back(1.5f + spread.data()[c]);
    }
    const Tensor expected = ref->batchNormApply(x, gamma, beta, state);
    const Tensor y = cpu->batchNormApply(in(x), gamma, beta, state);
    EXPECT_TRUE(paddingIsZero(y));
    EXPECT_LT(scaledDifference(y, expected), 1e-5);
  }
}

// Attention: float GEMMs over ≤ 48 channels and ≤ 20 tokens against double.
TEST_F(BackendOps, AttentionMatchesReference) {
  struct Case {
    Shape x;
    int heads;
  };
  int seed = 700;
  for (const Case& c : {Case{{1, 16, 4, 4}, 2}, Case{{3, 20, 3, 5}, 4}, Case{{2, 48, 2, 3}, 8}}) {
    Tensor ws[4], bs[4];
    for (int i = 0; i < 4; ++i) {
      ws[i] = randomTensor({c.x.c, c.x.c, 1, 1}, ++seed, 0.4f);
      bs[i] = randomTensor({1, c.x.c, 1, 1}, ++seed, 0.2f);
    }
    const AttentionWeights p{&ws[0], &bs[0], &ws[1], &bs[1], &ws[2],
                             &bs[2], &ws[3], &bs[3], c.heads};
    const Tensor x = randomTensor(c.x, ++seed);
    const Tensor dy = randomTensor(c.x, ++seed);
    const std::int64_t hw = c.x.h * c.x.w;
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(c.x.n * hw), 1);
    for (std::int64_t i = 0; i < hw; i += 3) mask[i] = 0;
    // The last sample of a batch may have no active token at all.
    if (c.x.n > 1) std::fill(mask.end() - hw, mask.end(), 0);
    for (bool masked : {false, true}) {
      SCOPED_TRACE(c.x.str() + " heads " + std::to_string(c.heads) + (masked ? " masked" : ""));
      const std::vector<std::uint8_t>* m = masked ? &mask : nullptr;
      const Tensor y = cpu->attention(in(x), p, m);
      EXPECT_TRUE(paddingIsZero(y));
      EXPECT_LT(scaledDifference(y, ref->attention(x, p, m)), 1e-5);
      AttentionGradients g, rg;
      const Tensor dx = cpu->attentionBackward(in(x), p, in(dy), &g, m);
      const Tensor rdx = ref->attentionBackward(x, p, dy, &rg, m);
      EXPECT_TRUE(paddingIsZero(dx));
      EXPECT_LT(scaledDifference(dx, rdx), 1e-4);
      const Tensor* got[8] = {&g.dwq, &g.dbq, &g.dwk, &g.dbk, &g.dwv, &g.dbv, &g.dwo, &g.dbo};
      const Tensor* want[8] = {&rg.dwq, &rg.dbq, &rg.dwk, &rg.dbk,
                               &rg.dwv, &rg.dbv, &rg.dwo, &rg.dbo};
      for (int i = 0; i < 8; ++i) {
        if (got[i] == &g.dbk) continue;
        EXPECT_LT(scaledDifference(*got[i], *want[i]), 1e-4) << i;
      }
      // The key bias shifts every score of a query row equally, which the
      // softmax cancels: its exact gradient is zero and both backends return
      // rounding noise, small against the query bias's gradient.
      EXPECT_LT(maxAbsoluteDifference(g.dbk, rg.dbk), 1e-4 * largest(rg.dbq));
    }
  }
}

// Loss: float softmax against double; the loss is a mean of O(1) terms.
TEST_F(BackendOps, LossMatchesReference) {
  int seed = 800;
  for (const Shape& s : {Shape{2, 3, 5, 7}, Shape{1, 10, 6, 6}, Shape{3, 20, 3, 4}}) {
    const Tensor logits = randomTensor(s, ++seed, 4.0f);
    Tensor labels = Tensor::zeros({s.n, 1, s.h, s.w});
    const Tensor r = randomTensor(labels.shape(), ++seed);
    // Labels use only some classes, so Dice's class selection matters.
    for (std::int64_t i = 0; i < labels.shape().count(); ++i)
      labels.data()[i] = std::floor((r.data()[i] + 1.0f) * 0.5f * (s.c - 1) * 0.7f);
    for (double diceWeight : {0.0, 1.0}) {
      SCOPED_TRACE(s.str() + " dice weight " + std::to_string(diceWeight));
      Tensor rd, d;
      const double expected = ref->crossEntropyDiceLoss(logits, labels, diceWeight, &rd);
      const double loss = cpu->crossEntropyDiceLoss(in(logits), labels, diceWeight, &d);
      EXPECT_NEAR(loss, expected, 1e-5 * std::abs(expected));
      EXPECT_TRUE(paddingIsZero(d));
      EXPECT_LT(scaledDifference(d, rd), 1e-5);
    }
  }
}

TEST_F(BackendOps, DistillationLossMatchesReference) {
  int seed = 850;
  for (const Shape& s : {Shape{2, 3, 5, 7}, Shape{1, 10, 6, 6}, Shape{3, 20, 3, 4}})
    for (double temperature : {1.0, 3.0}) {
      SCOPED_TRACE(s.str() + " T " + std::to_string(temperature));
      const Tensor student = randomTensor(s, ++seed, 4.0f);
      const Tensor teacher = randomTensor(s, ++seed, 6.0f);
      Tensor rd, d;
      const double expected = ref->distillationLoss(student, teacher, temperature, &rd);
      const double loss = cpu->distillationLoss(in(student), teacher, temperature, &d);
      EXPECT_NEAR(loss, expected, 1e-6 * std::abs(expected));
      EXPECT_TRUE(paddingIsZero(d));
      EXPECT_LT(scaledDifference(d, rd), 1e-5);
    }
}

// The forward-only ops of imported networks, on channel counts that do and
// do not fill blocks.
TEST_F(BackendOps, GeneralConvTransposeMatchesReference) {
  const ConvTransposeParams params[] = {{2, 2, 0, 0}, {3, 2, 1, 1}, {3, 1, 1, 0}, {4, 2, 1, 0}};
  int seed = 1100;
  for (const ConvTransposeParams& p : params)
    for (auto [cin, cout] : {std::pair<std::int64_t, std::int64_t>{3, 10}, {20, 16}}) {
      SCOPED_TRACE("k" + std::to_string(p.kernel) + " s" + std::to_string(p.stride) + " p" +
                   std::to_string(p.pad) + " op" + std::to_string(p.outputPad) + " " +
                   std::to_string(cin) + "→" + std::to_string(cout));
      const Tensor x = randomTensor({2, cin, 5, 6}, ++seed);
      const Tensor w = randomTensor({cin, cout, p.kernel, p.kernel}, ++seed);
      const Tensor b = randomTensor({1, cout, 1, 1}, ++seed);
      const Tensor y = cpu->convTranspose(in(x), w, &b, p);
      EXPECT_TRUE(paddingIsZero(y));
      EXPECT_LT(scaledDifference(y, ref->convTranspose(x, w, &b, p)), kConvTolerance);
    }
}

TEST_F(BackendOps, InstanceNormMatchesReference) {
  int seed = 1200;
  for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{2, 20, 6, 4}, Shape{1, 32, 9, 9}}) {
    SCOPED_TRACE(s.str());
    const Tensor x = randomTensor(s, ++seed);
    const Tensor g = randomTensor({1, s.c, 1, 1}, ++seed), b = randomTensor({1, s.c, 1, 1}, ++seed);
    const Tensor y = cpu->instanceNorm(in(x), g, b, 1e-5f);
    EXPECT_TRUE(paddingIsZero(y));
    EXPECT_LT(scaledDifference(y, ref->instanceNorm(x, g, b, 1e-5f)), 1e-5);
  }
}

TEST_F(BackendOps, LeakyReluAndPreluAreExact) {
  int seed = 1300;
  for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{2, 20, 4, 3}}) {
    SCOPED_TRACE(s.str());
    const Tensor x = randomTensor(s, ++seed), slope = randomTensor({1, s.c, 1, 1}, ++seed);
    const Tensor leaky = cpu->leakyRelu(in(x), 0.01f), p = cpu->prelu(in(x), slope);
    EXPECT_TRUE(paddingIsZero(leaky));
    EXPECT_TRUE(paddingIsZero(p));
    EXPECT_EQ(maxAbsoluteDifference(leaky.to(Layout::kNCHW), ref->leakyRelu(x, 0.01f)), 0.0);
    EXPECT_EQ(maxAbsoluteDifference(p.to(Layout::kNCHW), ref->prelu(x, slope)), 0.0);
  }
}

TEST_F(BackendOps, ResizeMatchesReference) {
  int seed = 1400;
  for (ResizeMode mode :
       {ResizeMode::kNearest, ResizeMode::kLinear, ResizeMode::kLinearAlignCorners})
    for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{2, 20, 4, 1}}) {
      SCOPED_TRACE(s.str() + " mode " + std::to_string(static_cast<int>(mode)));
      const Tensor x = randomTensor(s, ++seed);
      const ResizeParams p{2, 3, mode};
      const Tensor y = cpu->resize(in(x), p);
      EXPECT_TRUE(paddingIsZero(y));
      EXPECT_LT(scaledDifference(y, ref->resize(x, p)), 1e-6);
    }
}

TEST_F(BackendOps, SoftmaxMatchesReference) {
  int seed = 1500;
  for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{2, 17, 4, 3}}) {
    SCOPED_TRACE(s.str());
    const Tensor x = randomTensor(s, ++seed);
    const Tensor y = cpu->softmax(in(x));
    EXPECT_TRUE(paddingIsZero(y));
    EXPECT_LT(maxAbsoluteDifference(y.to(Layout::kNCHW), ref->softmax(x)), 1e-6);
  }
}

// The same logits as the loss test, then logits rounded to integers, where
// ties are common and both backends must pick the first largest channel.
TEST_F(BackendOps, ArgmaxMatchesReferenceIncludingTies) {
  int seed = 800;
  for (const Shape& s : {Shape{2, 3, 5, 7}, Shape{1, 10, 6, 6}, Shape{3, 20, 3, 4}}) {
    Tensor logits = randomTensor(s, ++seed, 4.0f);
    ++seed;
    for (bool ties : {false, true}) {
      SCOPED_TRACE(s.str() + " seed " + std::to_string(seed - 1) + (ties ? " ties" : ""));
      if (ties)
        for (std::int64_t i = 0; i < s.count(); ++i)
          logits.data()[i] = std::round(logits.data()[i] * 0.5f);
      const Tensor am = cpu->argmax(in(logits));
      EXPECT_EQ(am.layout(), Layout::kNCHW);
      EXPECT_EQ(maxAbsoluteDifference(am, ref->argmax(logits)), 0.0);
    }
  }
}

TEST_F(BackendOps, RepeatedRunsAreBitIdentical) {
  const Tensor x = in(randomTensor({3, 20, 9, 7}, 900));
  const Tensor w = randomTensor({48, 20, 3, 3}, 901);
  const Tensor dy = in(randomTensor({3, 48, 9, 7}, 902));
  Tensor dx[2], dw[2], db[2];
  for (int run = 0; run < 2; ++run)
    cpu->conv2dBackward(x, w, dy, 1, 1, &dx[run], &dw[run], &db[run]);
  EXPECT_TRUE(bitIdentical(dx[0], dx[1]));
  EXPECT_TRUE(bitIdentical(dw[0], dw[1]));
  EXPECT_TRUE(bitIdentical(db[0], db[1]));

  Tensor ws[4], bs[4];
  for (int i = 0; i < 4; ++i) {
    ws[i] = randomTensor({48, 48, 1, 1}, 910 + i, 0.3f);
    bs[i] = randomTensor({1, 48, 1, 1}, 920 + i, 0.1f);
  }
  const AttentionWeights p{&ws[0], &bs[0], &ws[1], &bs[1], &ws[2], &bs[2], &ws[3], &bs[3], 8};
  const Tensor ax = in(randomTensor({2, 48, 6, 6}, 930)),
               ady = in(randomTensor({2, 48, 6, 6}, 931));
  AttentionGradients g[2];
  const Tensor adx0 = cpu->attentionBackward(ax, p, ady, &g[0], nullptr);
  const Tensor adx1 = cpu->attentionBackward(ax, p, ady, &g[1], nullptr);
  EXPECT_TRUE(bitIdentical(adx0, adx1));
  EXPECT_TRUE(bitIdentical(g[0].dwq, g[1].dwq));
  EXPECT_TRUE(bitIdentical(g[0].dbk, g[1].dbk));
}

// --- Whole network ---------------------------------------------------------

UNetConfig smallConfig() {
  UNetConfig c;
  c.inputChannels = 3;
  c.classes = 10;
  c.baseWidth = 4;
  c.levels = 3;
  c.attentionHeads = 2;
  return c;
}

Tensor randomLabels(Shape input, int classes, std::uint64_t seed) {
  Tensor labels = Tensor::zeros({input.n, 1, input.h, input.w});
  std::uint64_t s = seed;
  for (std::int64_t i = 0; i < labels.shape().count(); ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    labels.data()[i] = static_cast<float>((s >> 33) % classes);
  }
  return labels;
}

struct StepOutcome {
  double loss = 0;
  std::vector<std::string> names;
  std::vector<Tensor> grads;  // trainable parameters
  std::vector<Tensor> stats;  // running statistics after the step
};

StepOutcome trainStep(Backend& backend, Checkpointing mode, const Tensor& input,
                      const Tensor& labels) {
  UNet net(smallConfig());
  net.initialize(5);
  net.parameters().zeroGrad();
  TrainStepOptions options;
  options.checkpointing = mode;
  options.headWeights = {1.0, 0.5, 0.25};
  StepOutcome out;
  out.loss = net.trainStep(backend, input, labels, options).loss;
  for (auto& p : net.parameters().all()) {
    if (p->trainable) {
      out.names.push_back(p->name);
      out.grads.push_back(p->grad.clone());
    } else {
      out.stats.push_back(p->value.clone());
    }
  }
  return out;
}

class BackendNetwork : public BackendOps {
 protected:
  const Tensor input = randomTensor({2, 3, 32, 32}, 1000, 2.0f);
  const Tensor labels = randomLabels(input.shape(), 10, 1001);
};

// ~60 float ops deep with batch norm in between: per-op errors of ~1e-6
// grow along the chain; 1e-3 of each gradient's scale still catches any op
// that is wrong (errors of order 1) while tolerating float accumulation.
TEST_F(BackendNetwork, TrainStepMatchesReference) {
  const StepOutcome want = trainStep(*ref, Checkpointing::kNone, input, labels);
  const StepOutcome got = trainStep(*cpu, Checkpointing::kNone, input, labels);
  EXPECT_NEAR(got.loss, want.loss, 1e-5 * want.loss);
  ASSERT_EQ(got.grads.size(), want.grads.size());
  auto gradient = [&](const std::string& name) {
    return want.grads[std::find(want.names.begin(), want.names.end(), name) - want.names.begin()];
  };
  for (std::size_t i = 0; i < want.grads.size(); ++i) {
    // att.k.bias has an exact gradient of zero (see AttentionMatchesReference):
    // compared against the scale of att.q.bias's gradient instead.
    if (want.names[i] == "att.k.bias") {
      EXPECT_LT(maxAbsoluteDifference(got.grads[i], want.grads[i]),
                1e-3 * largest(gradient("att.q.bias")));
      continue;
    }
    EXPECT_LT(scaledDifference(got.grads[i], want.grads[i]), 1e-3) << want.names[i];
  }
  for (std::size_t i = 0; i < want.stats.size(); ++i)
    EXPECT_LT(scaledDifference(got.stats[i], want.stats[i]), 1e-5) << i;
}

TEST_F(BackendNetwork, CheckpointedGradientsAreBitIdentical) {
  const StepOutcome plain = trainStep(*cpu, Checkpointing::kNone, input, labels);
  for (Checkpointing mode : {Checkpointing::kStage, Checkpointing::kAggressive}) {
    SCOPED_TRACE(checkpointingName(mode));
    const StepOutcome step = trainStep(*cpu, mode, input, labels);
    EXPECT_EQ(step.loss, plain.loss);
    for (std::size_t i = 0; i < plain.grads.size(); ++i)
      EXPECT_TRUE(bitIdentical(step.grads[i], plain.grads[i])) << plain.names[i];
    // Running statistics are updated once per step, never by recomputation.
    for (std::size_t i = 0; i < plain.stats.size(); ++i)
      EXPECT_TRUE(bitIdentical(step.stats[i], plain.stats[i])) << i;
  }
}

// bfloat16 storage of checkpoints is not exact (8 significant bits per
// stored value) and batch norm over a batch this small amplifies the
// rounding, so single gradients, biases above all (sums that nearly cancel),
// move by up to tens of percent of their scale. The whole gradient vector
// stays close: 8.2 % relative L2 error here, the same on the reference
// backend (so it is the storage format, not a kernel). A value restored from
// the wrong node, or not at all, gives errors of order 1.
TEST_F(BackendNetwork, HalfStorageGradientsAreClose) {
  const StepOutcome plain = trainStep(*cpu, Checkpointing::kNone, input, labels);
  UNet net(smallConfig());
  net.initialize(5);
  net.parameters().zeroGrad();
  TrainStepOptions options;
  options.checkpointing = Checkpointing::kAggressive;
  options.halfStorage = true;
  options.headWeights = {1.0, 0.5, 0.25};
  EXPECT_NEAR(net.trainStep(*cpu, input, labels, options).loss, plain.loss, 1e-2 * plain.loss);
  double diff = 0, norm = 0;
  std::size_t i = 0;
  for (auto& p : net.parameters().all()) {
    if (!p->trainable) continue;
    const Tensor& want = plain.grads[i++];
    for (std::int64_t k = 0; k < want.shape().count(); ++k) {
      diff += std::pow(double(p->grad.data()[k]) - want.data()[k], 2);
      norm += std::pow(double(want.data()[k]), 2);
    }
  }
  EXPECT_LT(std::sqrt(diff / norm), 0.2);
}

// Peak bytes come from core/memory.h's tracked allocations: deterministic, so a
// regression in what a policy keeps shows up here, not only in the benchmark.
TEST_F(BackendNetwork, CheckpointingLowersPeakMemory) {
  std::int64_t peak[3] = {};
  const Checkpointing modes[3] = {Checkpointing::kNone, Checkpointing::kStage,
                                  Checkpointing::kAggressive};
  for (int m = 0; m < 3; ++m) {
    UNet net(smallConfig());
    net.initialize(5);
    net.parameters().zeroGrad();
    TrainStepOptions options;
    options.checkpointing = modes[m];
    peak[m] = net.trainStep(*cpu, input, labels, options).peakBytes;
  }
  EXPECT_GT(peak[0], 0);
  EXPECT_LT(peak[1], peak[0]);
  EXPECT_LT(peak[2], peak[0]);
}

TEST_F(BackendNetwork, TrainStepIsDeterministic) {
  const StepOutcome a = trainStep(*cpu, Checkpointing::kNone, input, labels);
  const StepOutcome b = trainStep(*cpu, Checkpointing::kNone, input, labels);
  EXPECT_EQ(a.loss, b.loss);
  for (std::size_t i = 0; i < a.grads.size(); ++i)
    EXPECT_TRUE(bitIdentical(a.grads[i], b.grads[i])) << a.names[i];
}

TEST_F(BackendNetwork, InferenceMatchesReference) {
  UNet net(smallConfig());
  net.initialize(6);
  std::vector<std::uint8_t> mask(2 * 4 * 4, 1);
  mask[3] = mask[17] = 0;
  for (const std::vector<std::uint8_t>* m :
       {static_cast<std::vector<std::uint8_t>*>(nullptr), &mask}) {
    const Tensor want = net.forward(*ref, input, m);
    const Tensor got = net.forward(*cpu, input, m);
    EXPECT_EQ(got.layout(), Layout::kNCHW);
    EXPECT_LT(scaledDifference(got, want), 1e-4);
  }
}

}  // namespace
}  // namespace tessera::models
