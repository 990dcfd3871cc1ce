// The inference kernels (models/infer/kernels/) against the reference ops
// they implement (models/ops/reference/reference_ops.h), op by op.
//
// Each case fills a FeatureMap with seeded random values (interior pixels,
// channels < C; the one-pixel border and the lanes ≥ C stay zero, the
// FeatureMap invariant), runs one kernel over one RowRun and compares with
// the reference op on the dense (1, C, H, W) copy of the map. Pixels next to
// the run hold real values, as active neighbours or the background vector
// do in the engine, so the 3×3 halo is read in place; at the image border it
// is the zero ring, which must act as the reference's zero padding.
//
// The output map is filled with a sentinel first: every float the kernel is
// not meant to write (other pixels, other channel blocks, the border) must
// keep it bit for bit, and lanes ≥ C of written blocks must be 0.
//
// Tolerance: with n products per output and Σ|terms| = M (computed with the
// same reference op on |x| and |w|), any summation order, with or without
// FMA, errs by at most n·2⁻²⁴·M; the tests allow 2·n·2⁻²⁴·M, which a single
// wrong or missing term (≈ M/n) exceeds. Max pooling must match exactly.
//
// Every case runs on each instruction set's build of the kernels (KernelSet:
// avx512, avx2, generic; skipped, with the reason, where the CPU lacks the
// set), the reference op remaining the oracle; InferenceKernels.*MatchesAvx512
// also compares each set with the AVX-512 one.
#include "models/infer/internal/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::infer {
namespace {

class InferenceKernels : public ::testing::TestWithParam<KernelIsa> {
 protected:
  void SetUp() override {
    if (!cpuSupports(GetParam()))
      GTEST_SKIP() << "this CPU cannot run the " << kernelIsaName(GetParam()) << " kernels";
  }
  const KernelSet& kernels() const { return kernelSet(GetParam()); }
};

constexpr int kChannelCounts[] = {3, 16, 20, 48};
constexpr int kMaxRunLength = 25;  // longer than every kernel's widest tile
constexpr double kUnitRoundoff = 1.0 / 16777216.0;

float uniform(std::mt19937_64& rng, float lo, float hi) {
  return lo + (hi - lo) * static_cast<float>(rng() >> 40) / 16777216.0f;
}

Tensor randomTensor(Shape shape, std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::zeros(shape);
  for (std::int64_t i = 0; i < shape.count(); ++i) t.data()[i] = uniform(rng, lo, hi);
  return t;
}

Tensor absolute(const Tensor& t) {
  Tensor a = t.clone();
  for (std::int64_t i = 0; i < a.shape().count(); ++i) a.data()[i] = std::abs(a.data()[i]);
  return a;
}

// Random interior values for channels [0, channels); border and padding lanes zero.
void fillRandom(FeatureMap& map, int channels, std::mt19937_64& rng) {
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < map.height(); ++y)
      for (int x = 0; x < map.width(); ++x) map.pixel(c / 16, y, x)[c % 16] = uniform(rng, -1, 1);
}

// Channels [firstBlock·16, firstBlock·16 + channels) of the interior as (1, channels, H, W).
Tensor denseOf(const FeatureMap& map, int channels, int firstBlock = 0) {
  Tensor t = Tensor::zeros({1, channels, map.height(), map.width()});
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < map.height(); ++y)
      for (int x = 0; x < map.width(); ++x)
        t.at(0, c, y, x) = map.pixel(firstBlock + c / 16, y, x)[c % 16];
  return t;
}

// Output pixels a kernel call writes: rows [y0, y1), columns [x0, x1).
struct Rect {
  int y0, y1, x0, x1;
};

// Every float of `map` against `before`: in blocks [ocbBegin, ocbEnd) at the
// pixels of `written`, lane l of block cb must be within tolerance of
// expected channel c = (cb − expectedFirstBlock)·16 + l when c < channels,
// and 0 above; every other float (other pixels and blocks, the border)
// must be unchanged.
::testing::AssertionResult checkWrites(FeatureMap map, const std::vector<float>& before,
                                       int ocbBegin, int ocbEnd, Rect written,
                                       const Tensor& expected, const Tensor& tolerance,
                                       int channels, int expectedFirstBlock = 0) {
  const float* data = map.data();
  int bad = 0;
  std::ostringstream first;
  std::int64_t i = 0;
  for (int cb = 0; cb < map.channelBlocks(); ++cb)
    for (int y = -1; y <= map.height(); ++y)
      for (int x = -1; x <= map.width(); ++x)
        for (int lane = 0; lane < 16; ++lane, ++i) {
          const bool target = cb >= ocbBegin && cb < ocbEnd && y >= written.y0 && y < written.y1 &&
                              x >= written.x0 && x < written.x1;
          const int c = (cb - expectedFirstBlock) * 16 + lane;
          const bool padding = c >= channels;
          bool ok;
          if (!target)
            ok = std::memcmp(&data[i], &before[i], sizeof(float)) == 0;
          else if (padding)
            ok = data[i] == 0.0f;
          else
            ok = std::abs(data[i] - expected.at(0, c, y, x)) <= tolerance.at(0, c, y, x);
          if (ok || bad++ > 0) continue;
          first << "block " << cb << " lane " << lane << " pixel (" << x << ", " << y << "): got "
                << data[i] << ", want ";
          if (!target)
            first << before[i] << " (not to be written)";
          else if (padding)
            first << "0 (padding lane)";
          else
            first << expected.at(0, c, y, x) << " ± " << tolerance.at(0, c, y, x);
        }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " wrong floats; first: " << first.str();
}

// Sentinel values in every float of `map`; returns them.
std::vector<float> fillSentinel(FeatureMap& map) {
  float* data = map.data();
  for (std::int64_t i = 0; i < map.floats(); ++i) data[i] = -1000.0f - static_cast<float>(i % 251);
  return std::vector<float>(data, data + map.floats());
}

void restore(FeatureMap& map, const std::vector<float>& values) {
  std::memcpy(map.data(), values.data(), values.size() * sizeof(float));
}

// Where a run of `length` pixels is placed in a width × height map: on the
// left border and first row, on the right border and last row, and at a
// random interior position.
std::vector<RowRun> placements(int length, int width, int height, std::mt19937_64& rng) {
  const int x = static_cast<int>(rng() % (width - length + 1));
  const int y = height > 2 ? 1 + static_cast<int>(rng() % (height - 2)) : 0;
  return {{0, 0, length}, {height - 1, width - length, length}, {y, x, length}};
}

// Every block range [begin, end) of `blocks` output blocks, all blocks first.
std::vector<std::pair<int, int>> blockRanges(int blocks) {
  std::vector<std::pair<int, int>> ranges{{0, blocks}};
  for (int b = 0; b < blocks; ++b)
    for (int e = b + 1; e <= blocks; ++e)
      if (e - b < blocks) ranges.push_back({b, e});
  return ranges;
}

std::string describe(std::uint64_t seed, int cin, int cout, RowRun run, int ocbBegin, int ocbEnd) {
  std::ostringstream s;
  s << "seed " << seed << " cin " << cin << " cout " << cout << " run y " << run.y << " x0 "
    << run.x0 << " length " << run.length << " ocb [" << ocbBegin << ", " << ocbEnd << ")";
  return s.str();
}

// --- conv2d 3×3 (+ folded batch norm, ReLU) ---------------------------------

TEST_P(InferenceKernels, Conv2d3x3RowsMatchesReferenceConv2d) {
  const int width = kMaxRunLength + 4, height = 6;
  for (int cin : kChannelCounts)
    for (int cout : kChannelCounts)
      // folded = the engine's use (no bias, batch-norm scale and shift);
      // otherwise a plain biased convolution.
      for (bool folded : {true, false}) {
        const std::uint64_t seed = 1000u * cin + 10u * cout + folded;
        std::mt19937_64 rng(seed);
        FeatureMap in(cin, height, width);
        fillRandom(in, cin, rng);
        const Tensor x = denseOf(in, cin);
        const Tensor w = randomTensor({cout, cin, 3, 3}, rng);
        const Tensor bias = randomTensor({1, cout, 1, 1}, rng);
        std::vector<float> scale(cout, 1.0f), shift(cout, 0.0f);
        if (folded)
          for (int c = 0; c < cout; ++c) {
            scale[c] = uniform(rng, 0.5f, 1.5f);
            shift[c] = uniform(rng, -0.5f, 0.5f);
          }
        const Conv2d3x3Weights packed =
            folded ? packConv2d3x3(w.data(), nullptr, scale.data(), shift.data(), cout, cin)
                   : packConv2d3x3(w.data(), bias.data(), nullptr, nullptr, cout, cin);
        // expected = conv2d(x, w)·scale + (bias·scale + shift), per output channel.
        const Tensor sum = ref::conv2d(x, w, nullptr, 1, 1);
        const Tensor magnitude = ref::conv2d(absolute(x), absolute(w), nullptr, 1, 1);
        Tensor expected = Tensor::zeros(sum.shape()), tolerance = Tensor::zeros(sum.shape());
        const double terms = 9.0 * cin + 2;
        for (int c = 0; c < cout; ++c) {
          const double b = folded ? 0.0 : bias.at(0, c, 0, 0);
          for (int y = 0; y < height; ++y)
            for (int xx = 0; xx < width; ++xx) {
              expected.at(0, c, y, xx) = static_cast<float>(double(sum.at(0, c, y, xx)) * scale[c] +
                                                            b * scale[c] + shift[c]);
              const double m = magnitude.at(0, c, y, xx) * std::abs(scale[c]) +
                               std::abs(b * scale[c]) + std::abs(shift[c]);
              tolerance.at(0, c, y, xx) = static_cast<float>(2.0 * terms * kUnitRoundoff * m);
            }
        }
        const Tensor expectedRelu = ref::relu(expected);

        const int blocks = packed.outBlocks();
        // With whole blocks, also write into the second half of a map twice
        // as wide, as the engine writes skip connections into its concat buffers.
        for (int viewFirst : cout % 16 == 0 ? std::vector<int>{0, blocks} : std::vector<int>{0}) {
          FeatureMap parent(viewFirst > 0 ? 2 * blocks * 16 : cout, height, width);
          const std::vector<float> before = fillSentinel(parent);
          FeatureMap out = viewFirst > 0 ? parent.channelView(viewFirst, blocks) : parent;
          for (bool relu : {true, false})
            for (auto [ocbBegin, ocbEnd] : blockRanges(blocks))
              for (int length = 1; length <= kMaxRunLength; ++length)
                for (RowRun run : placements(length, width, height, rng)) {
                  SCOPED_TRACE(describe(seed, cin, cout, run, ocbBegin, ocbEnd) + " relu " +
                               std::to_string(relu) + " folded " + std::to_string(folded) +
                               " output view at block " + std::to_string(viewFirst));
                  restore(parent, before);
                  kernels().conv2d3x3(packed, in, out, run, ocbBegin, ocbEnd, relu);
                  ASSERT_TRUE(checkWrites(parent, before, viewFirst + ocbBegin, viewFirst + ocbEnd,
                                          {run.y, run.y + 1, run.x0, run.x0 + run.length},
                                          relu ? expectedRelu : expected, tolerance, cout,
                                          viewFirst));
                }
        }
      }
}

// --- convTranspose 2×2, stride 2 --------------------------------------------

TEST_P(InferenceKernels, ConvTranspose2x2RowsMatchesReferenceConvTranspose) {
  const int width = kMaxRunLength + 2, height = 4;
  for (int cin : kChannelCounts)
    for (int cout : kChannelCounts)
      for (bool withBias : {true, false}) {
        const std::uint64_t seed = 2000u * cin + 10u * cout + withBias;
        std::mt19937_64 rng(seed);
        FeatureMap in(cin, height, width);
        fillRandom(in, cin, rng);
        const Tensor x = denseOf(in, cin);
        const Tensor w = randomTensor({cin, cout, 2, 2}, rng);
        const Tensor bias = randomTensor({1, cout, 1, 1}, rng);
        const Tensor* b = withBias ? &bias : nullptr;
        const ConvTranspose2x2Weights packed =
            packConvTranspose2x2(w.data(), withBias ? bias.data() : nullptr, cin, cout);
        const Tensor expected = ref::convTranspose2x2(x, w, b);
        const Tensor absBias = absolute(bias);
        Tensor tolerance =
            ref::convTranspose2x2(absolute(x), absolute(w), withBias ? &absBias : nullptr);
        for (std::int64_t i = 0; i < tolerance.shape().count(); ++i)
          tolerance.data()[i] *= static_cast<float>(2.0 * (cin + 1) * kUnitRoundoff);

        const int blocks = packed.outBlocks();
        // With whole blocks, also write into the first half of a map twice as
        // wide, as the engine writes up-convolutions into its concat buffers.
        for (bool view :
             cout % 16 == 0 ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
          FeatureMap parent(view ? 2 * blocks * 16 : cout, 2 * height, 2 * width);
          const std::vector<float> before = fillSentinel(parent);
          FeatureMap out = view ? parent.channelView(0, blocks) : parent;
          for (auto [ocbBegin, ocbEnd] : blockRanges(blocks))
            for (int length = 1; length <= kMaxRunLength; ++length)
              for (RowRun run : placements(length, width, height, rng)) {
                SCOPED_TRACE(describe(seed, cin, cout, run, ocbBegin, ocbEnd) + " bias " +
                             std::to_string(withBias) + " output view " + std::to_string(view));
                restore(parent, before);
                kernels().convTranspose2x2(packed, in, out, run, ocbBegin, ocbEnd);
                ASSERT_TRUE(
                    checkWrites(parent, before, ocbBegin, ocbEnd,
                                {2 * run.y, 2 * run.y + 2, 2 * run.x0, 2 * (run.x0 + run.length)},
                                expected, tolerance, cout));
              }
        }
      }
}

// --- max pooling 2×2, stride 2 ----------------------------------------------

TEST_P(InferenceKernels, MaxPool2x2RowsMatchesReferenceMaxPoolExactly) {
  const int width = kMaxRunLength + 2, height = 4;  // output size
  for (int channels : kChannelCounts)
    for (bool view :
         channels % 16 == 0 ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
      const std::uint64_t seed = 3000u * channels + view;
      std::mt19937_64 rng(seed);
      const int blocks = (channels + 15) / 16;
      // As in the engine's encoder, the input may be the second half of a
      // concat buffer; the pool must read only that half.
      FeatureMap parent(view ? 2 * channels : channels, 2 * height, 2 * width);
      fillRandom(parent, view ? 2 * channels : channels, rng);
      const FeatureMap in = view ? parent.channelView(blocks, blocks) : parent;
      const Tensor expected = ref::maxPool2x2(denseOf(in, channels));
      const Tensor exact = Tensor::zeros(expected.shape());
      FeatureMap out(channels, height, width);
      const std::vector<float> before = fillSentinel(out);
      for (int length = 1; length <= kMaxRunLength; ++length)
        for (RowRun run : placements(length, width, height, rng)) {
          SCOPED_TRACE(describe(seed, channels, channels, run, 0, blocks) + " input view " +
                       std::to_string(view));
          restore(out, before);
          kernels().maxPool2x2(in, out, run);
          ASSERT_TRUE(checkWrites(out, before, 0, blocks,
                                  {run.y, run.y + 1, run.x0, run.x0 + run.length}, expected, exact,
                                  channels));
        }
    }
}

// --- conv2d 1×1 fused with argmax -------------------------------------------

TEST_P(InferenceKernels, Conv2d1x1ArgmaxRowsMatchesReferenceConv2dAndArgmax) {
  const int width = kMaxRunLength + 4, height = 5;
  constexpr float kSentinel = -777.0f;
  constexpr std::uint8_t kLabelSentinel = 0xAB;
  const float inf = std::numeric_limits<float>::infinity();
  for (int cin : kChannelCounts)
    for (int classes : {2, 3, 16}) {
      const std::uint64_t seed = 4000u * cin + classes;
      std::mt19937_64 rng(seed);
      FeatureMap in(cin, height, width);
      fillRandom(in, cin, rng);
      const Tensor x = denseOf(in, cin);
      const Tensor w = randomTensor({classes, cin, 1, 1}, rng);
      const Tensor bias = randomTensor({1, classes, 1, 1}, rng);
      const Conv2d1x1ArgmaxWeights packed =
          packConv2d1x1Argmax(w.data(), bias.data(), classes, cin);
      const Tensor logits = ref::conv2d(x, w, &bias, 1, 0);
      const Tensor labels = ref::argmax(logits);
      const Tensor absBias = absolute(bias);
      const Tensor magnitude = ref::conv2d(absolute(x), absolute(w), &absBias, 1, 0);
      const double relTol = 2.0 * (cin + 1) * kUnitRoundoff;

      for (int length = 1; length <= kMaxRunLength; ++length)
        for (RowRun run : placements(length, width, height, rng)) {
          SCOPED_TRACE(describe(seed, cin, classes, run, 0, 1));
          std::vector<std::uint8_t> labelRow(width, kLabelSentinel), plainLabels(labelRow);
          std::vector<float> marginRow(width, kSentinel), logitRow(16 * width, kSentinel);
          kernels().conv2d1x1Argmax(packed, in, run, labelRow.data(), marginRow.data(),
                                    logitRow.data());
          // The engine's final head passes neither margins nor logits.
          kernels().conv2d1x1Argmax(packed, in, run, plainLabels.data(), nullptr, nullptr);
          ASSERT_EQ(labelRow, plainLabels);
          for (int px = 0; px < width; ++px) {
            SCOPED_TRACE("pixel x " + std::to_string(px));
            if (px < run.x0 || px >= run.x0 + run.length) {
              ASSERT_EQ(labelRow[px], kLabelSentinel);
              ASSERT_EQ(marginRow[px], kSentinel);
              for (int c = 0; c < 16; ++c) ASSERT_EQ(logitRow[16 * px + c], kSentinel);
              continue;
            }
            const float* got = &logitRow[16 * px];
            double worstTol = 0, top = -inf, second = -inf;
            int ownBest = 0;
            for (int c = 0; c < 16; ++c) {
              if (c >= classes) {
                ASSERT_EQ(got[c], -inf) << "lane " << c;
                continue;
              }
              const double want = logits.at(0, c, run.y, px);
              const double tol = relTol * magnitude.at(0, c, run.y, px);
              ASSERT_NEAR(got[c], want, tol) << "class " << c;
              worstTol = std::max(worstTol, tol);
              if (want > top) {
                second = top;
                top = want;
              } else if (want > second) {
                second = want;
              }
              if (got[c] > got[ownBest]) ownBest = c;
            }
            // The label is the first maximum of the logits the kernel computed,
            // and the reference's wherever rounding cannot reorder the top two.
            ASSERT_EQ(labelRow[px], ownBest);
            if (top - second > 2 * worstTol) {
              ASSERT_EQ(labelRow[px], labels.at(0, 0, run.y, px));
            }
            ASSERT_NEAR(marginRow[px], top - second,
                        2 * worstTol + kUnitRoundoff * std::abs(top - second));
          }
        }
    }
}

TEST_P(InferenceKernels, Conv2d1x1ArgmaxTiesGoToTheLowerClass) {
  // Zero weights: the logits are the biases, with classes 1 and 2 tied.
  const int cin = 20, classes = 4, width = 7;
  const std::vector<float> w(static_cast<std::size_t>(classes) * cin, 0.0f);
  const std::vector<float> bias{0.25f, 1.0f, 1.0f, 0.5f};
  const Conv2d1x1ArgmaxWeights packed = packConv2d1x1Argmax(w.data(), bias.data(), classes, cin);
  FeatureMap in(cin, 2, width);
  std::mt19937_64 rng(9);
  fillRandom(in, cin, rng);
  Tensor logits = Tensor::zeros({1, classes, 1, 1});
  for (int c = 0; c < classes; ++c) logits.at(0, c, 0, 0) = bias[c];
  const int want = static_cast<int>(ref::argmax(logits).at(0, 0, 0, 0));
  std::vector<std::uint8_t> labels(width, 0xFF);
  std::vector<float> margins(width, -1.0f);
  kernels().conv2d1x1Argmax(packed, in, {1, 0, width}, labels.data(), margins.data(), nullptr);
  for (int x = 0; x < width; ++x) {
    EXPECT_EQ(labels[x], want) << x;
    EXPECT_EQ(margins[x], 0.0f) << x;
  }
}

// --- each instruction set against the AVX-512 one ----------------------------

// Both sets lie within 2·n·2⁻²⁴·M of the exact result, so they differ by at
// most 4·n·2⁻²⁴·M; max pooling is exact on every set.
TEST_P(InferenceKernels, Conv2d3x3AndConvTransposeMatchAvx512) {
  if (!cpuSupports(KernelIsa::kAvx512)) GTEST_SKIP() << "this CPU cannot run the avx512 kernels";
  const KernelSet& wide = kernelSet(KernelIsa::kAvx512);
  const int cin = 20, cout = 48, width = kMaxRunLength + 4, height = 5;
  const std::uint64_t seed = 5000;
  std::mt19937_64 rng(seed);
  FeatureMap in(cin, height, width);
  fillRandom(in, cin, rng);
  const Tensor x = denseOf(in, cin);
  const Tensor w3 = randomTensor({cout, cin, 3, 3}, rng);
  const Tensor wt = randomTensor({cin, cout, 2, 2}, rng);
  const Tensor bias = randomTensor({1, cout, 1, 1}, rng);
  const Conv2d3x3Weights conv = packConv2d3x3(w3.data(), bias.data(), nullptr, nullptr, cout, cin);
  const ConvTranspose2x2Weights up = packConvTranspose2x2(wt.data(), bias.data(), cin, cout);
  const Tensor absBias = absolute(bias);
  const Tensor m3 = ref::conv2d(absolute(x), absolute(w3), &absBias, 1, 1);
  const Tensor mt = ref::convTranspose2x2(absolute(x), absolute(wt), &absBias);
  FeatureMap got3(cout, height, width), want3(cout, height, width);
  FeatureMap gotT(cout, 2 * height, 2 * width), wantT(cout, 2 * height, 2 * width);
  for (int y = 0; y < height; ++y) {
    const RowRun run{y, 0, width};
    kernels().conv2d3x3(conv, in, got3, run, 0, conv.outBlocks(), true);
    wide.conv2d3x3(conv, in, want3, run, 0, conv.outBlocks(), true);
    kernels().convTranspose2x2(up, in, gotT, run, 0, up.outBlocks());
    wide.convTranspose2x2(up, in, wantT, run, 0, up.outBlocks());
  }
  const struct {
    const char* op;
    const FeatureMap &got, &want;
    const Tensor& magnitude;
    double terms;
  } outputs[] = {{"conv2d 3x3", got3, want3, m3, 9.0 * cin + 1},
                 {"convTranspose 2x2", gotT, wantT, mt, cin + 1.0}};
  for (const auto& o : outputs)
    for (int c = 0; c < cout; ++c)
      for (int y = 0; y < o.got.height(); ++y)
        for (int xx = 0; xx < o.got.width(); ++xx) {
          const float a = o.got.pixel(c / 16, y, xx)[c % 16];
          const float b = o.want.pixel(c / 16, y, xx)[c % 16];
          const double tol = 4.0 * o.terms * kUnitRoundoff * o.magnitude.at(0, c, y, xx);
          ASSERT_LE(std::abs(double(a) - b), tol)
              << o.op << " seed " << seed << " channel " << c << " pixel (" << xx << ", " << y
              << "): " << kernelIsaName(GetParam()) << " " << a << ", avx512 " << b;
        }
}

TEST_P(InferenceKernels, MaxPoolAndArgmaxMatchAvx512) {
  if (!cpuSupports(KernelIsa::kAvx512)) GTEST_SKIP() << "this CPU cannot run the avx512 kernels";
  const KernelSet& wide = kernelSet(KernelIsa::kAvx512);
  const int channels = 48, classes = 5, width = kMaxRunLength + 2, height = 4;
  const std::uint64_t seed = 6000;
  std::mt19937_64 rng(seed);
  FeatureMap in(channels, 2 * height, 2 * width);
  fillRandom(in, channels, rng);
  FeatureMap got(channels, height, width), want(channels, height, width);
  const Tensor w = randomTensor({classes, channels, 1, 1}, rng);
  const Tensor bias = randomTensor({1, classes, 1, 1}, rng);
  const Conv2d1x1ArgmaxWeights head = packConv2d1x1Argmax(w.data(), bias.data(), classes, channels);
  const Tensor absBias = absolute(bias);
  const Tensor magnitude =
      ref::conv2d(absolute(denseOf(in, channels)), absolute(w), &absBias, 1, 0);
  const double relTol = 4.0 * (channels + 1) * kUnitRoundoff;
  for (int y = 0; y < height; ++y) {
    kernels().maxPool2x2(in, got, {y, 0, width});
    wide.maxPool2x2(in, want, {y, 0, width});
  }
  ASSERT_EQ(std::memcmp(got.data(), want.data(), got.floats() * sizeof(float)), 0)
      << "max pooling differs from avx512, seed " << seed;
  const int inWidth = 2 * width;
  for (int y = 0; y < 2 * height; ++y) {
    std::vector<std::uint8_t> labels(inWidth), wideLabels(inWidth);
    std::vector<float> logits(16 * inWidth), wideLogits(16 * inWidth);
    kernels().conv2d1x1Argmax(head, in, {y, 0, inWidth}, labels.data(), nullptr, logits.data());
    wide.conv2d1x1Argmax(head, in, {y, 0, inWidth}, wideLabels.data(), nullptr, wideLogits.data());
    for (int px = 0; px < inWidth; ++px) {
      double top = -1e30, second = -1e30, worst = 0;
      for (int c = 0; c < classes; ++c) {
        const double tol = relTol * magnitude.at(0, c, y, px);
        ASSERT_LE(std::abs(double(logits[16 * px + c]) - wideLogits[16 * px + c]), tol)
            << "seed " << seed << " class " << c << " pixel (" << px << ", " << y << ")";
        worst = std::max(worst, tol);
        const double v = wideLogits[16 * px + c];
        if (v > top) {
          second = top;
          top = v;
        } else if (v > second) {
          second = v;
        }
      }
      if (top - second > 2 * worst) {
        ASSERT_EQ(labels[px], wideLabels[px])
            << "seed " << seed << " pixel (" << px << ", " << y << ")";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryIsa, InferenceKernels,
                         ::testing::Values(KernelIsa::kAvx512, KernelIsa::kAvx2,
                                           KernelIsa::kGeneric),
                         [](const ::testing::TestParamInfo<KernelIsa>& info) {
                           return std::string(kernelIsaName(info.param));
                         });

// --- choosing the set ---------------------------------------------------------

TEST(KernelIsaChoice, UnsetPicksTheWidestSetTheCpuSupports) {
  const KernelIsa widest = cpuSupports(KernelIsa::kAvx512) ? KernelIsa::kAvx512
                           : cpuSupports(KernelIsa::kAvx2) ? KernelIsa::kAvx2
                                                           : KernelIsa::kGeneric;
  for (const char* unset : {static_cast<const char*>(nullptr), ""}) {
    const Result<KernelIsa> isa = chooseKernelIsa(unset);
    ASSERT_TRUE(isa.ok()) << isa.error().toString();
    EXPECT_EQ(*isa, widest) << kernelIsaName(*isa);
  }
  EXPECT_TRUE(cpuSupports(KernelIsa::kGeneric));
}

TEST(KernelIsaChoice, ANamedSetIsChosenOnlyWhereTheCpuHasIt) {
  for (KernelIsa want : {KernelIsa::kAvx512, KernelIsa::kAvx2, KernelIsa::kGeneric}) {
    const std::string name = kernelIsaName(want);
    const Result<KernelIsa> isa = chooseKernelIsa(name.c_str());
    if (cpuSupports(want)) {
      ASSERT_TRUE(isa.ok()) << name << ": " << isa.error().toString();
      EXPECT_EQ(*isa, want) << name;
      EXPECT_EQ(kernelSet(*isa).isa, want) << name;
    } else {
      ASSERT_FALSE(isa.ok()) << name;
      EXPECT_EQ(isa.error().code, StatusCode::kUnsupported) << name;
      EXPECT_NE(isa.error().message.find("TESSERA_ISA=" + name), std::string::npos)
          << isa.error().message;
    }
  }
}

TEST(KernelIsaChoice, AnUnknownNameIsRefused) {
  for (const char* name : {"sse9", "AVX2", "avx512 "}) {
    const Result<KernelIsa> isa = chooseKernelIsa(name);
    ASSERT_FALSE(isa.ok()) << name;
    EXPECT_EQ(isa.error().code, StatusCode::kInvalidArgument) << name;
    EXPECT_NE(isa.error().message.find(std::string("TESSERA_ISA=") + name), std::string::npos)
        << isa.error().message;
  }
}

}  // namespace
}  // namespace tessera::models::infer
