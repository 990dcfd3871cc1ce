// The inference engine against an independent emulation built from the
// reference ops: dense must match the reference network, and sparse must
// match "dense with every inactive block replaced by the air background"
// at every layer, which is the sparse engine's defined semantics.
#include "models/infer/inference_engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "models/ops/reference/reference_ops.h"
#include "tests/support/tensor_util.h"

namespace tessera::models {
namespace {

ModelInfo smallInfo(int levels = 2) {
  ModelInfo info;
  info.architecture.inputChannels = 3;
  info.architecture.classes = 4;
  info.architecture.baseWidth = 16;
  info.architecture.levels = levels;
  info.architecture.attentionHeads = 2;
  for (int c = 0; c < 4; ++c)
    info.labels.labels.push_back({std::uint8_t(c), "c" + std::to_string(c), {}});
  return info;
}

Model smallModel(int levels = 2, std::uint64_t seed = 5) {
  Model model = std::move(*makeModel(smallInfo(levels), seed));
  // Non-trivial running statistics so that folding batch norm is exercised.
  std::mt19937_64 rng(seed);
  for (auto& p : model.net->parameters().all()) {
    const bool mean = p->name.find("running_mean") != std::string::npos;
    const bool var = p->name.find("running_var") != std::string::npos;
    const bool beta = p->name.find(".bn") != std::string::npos && p->name.ends_with(".bias");
    for (std::int64_t i = 0; i < p->value.shape().count(); ++i) {
      const float u = static_cast<float>(rng() >> 40) / 16777216.0f;
      if (mean) p->value.data()[i] = u - 0.5f;
      if (var) p->value.data()[i] = 0.5f + u;
      if (beta) p->value.data()[i] = 0.2f * (u - 0.5f);
    }
  }
  return model;
}

std::vector<std::int16_t> randomSlices(int channels, int w, int h, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int16_t> hu(static_cast<std::size_t>(channels) * w * h);
  for (auto& v : hu) v = static_cast<std::int16_t>(static_cast<int>(rng() % 2400) - 1100);
  return hu;
}

// Reference forward at inference, optionally emulating sparse semantics:
// after every layer, pixels of inactive blocks take that layer's value on
// an all-air input (at the centre pixel). Returns logits (1, classes, H, W)
// for the padded slice.
struct Emulator {
  const Model& model;
  int paddedW, paddedH;
  const BlockMask* mask = nullptr;
  std::vector<std::vector<float>> backgrounds;
  std::size_t layer = 0;
  bool recording = false;

  Tensor maskLayer(Tensor t) {
    const int level = static_cast<int>(std::log2(paddedW / t.w()));
    if (recording) {
      std::vector<float> centre(t.c());
      for (int c = 0; c < t.c(); ++c) centre[c] = t.at(0, c, t.h() / 2, t.w() / 2);
      backgrounds.push_back(centre);
    } else if (mask) {
      const int b = 16 >> level;
      for (int y = 0; y < t.h(); ++y)
        for (int x = 0; x < t.w(); ++x)
          if (!mask->test(x / b, y / b))
            for (int c = 0; c < t.c(); ++c) t.at(0, c, y, x) = backgrounds[layer][c];
    }
    ++layer;
    return t;
  }

  Tensor run(const Tensor& input) {
    layer = 0;
    const UNetConfig& a = model.info.architecture;
    const ParameterSet& p = model.net->parameters();
    auto V = [&](const std::string& n) -> const Tensor& { return p.find(n)->value; };
    auto cbr = [&](const Tensor& x, const std::string& prefix, int i) {
      const std::string s = std::to_string(i);
      Tensor y = ref::conv2d(x, V(prefix + ".conv" + s + ".weight"), nullptr, 1, 1);
      y = ref::batchNormInference(
          y, V(prefix + ".bn" + s + ".weight"), V(prefix + ".bn" + s + ".bias"),
          V(prefix + ".bn" + s + ".running_mean"), V(prefix + ".bn" + s + ".running_var"), a.bnEps);
      return maskLayer(ref::relu(y));
    };
    std::vector<Tensor> skips;
    Tensor x = input;
    for (int l = 0; l < a.levels; ++l) {
      x = cbr(x, "enc" + std::to_string(l), 1);
      x = cbr(x, "enc" + std::to_string(l), 2);
      skips.push_back(x);
      x = maskLayer(ref::maxPool2x2(x));
    }
    x = cbr(x, "bott", 1);
    x = cbr(x, "bott", 2);
    // Tokens: the bottleneck pixels of active blocks.
    std::vector<std::uint8_t> tokens;
    if (mask && !recording) {
      const int b = 16 >> a.levels;
      for (int y = 0; y < x.h(); ++y)
        for (int xx = 0; xx < x.w(); ++xx) tokens.push_back(mask->test(xx / b, y / b) ? 1 : 0);
    }
    AttentionWeights att{&V("att.q.weight"), &V("att.q.bias"),   &V("att.k.weight"),
                         &V("att.k.bias"),   &V("att.v.weight"), &V("att.v.bias"),
                         &V("att.o.weight"), &V("att.o.bias"),   a.attentionHeads};
    x = maskLayer(ref::attention(x, att, tokens.empty() ? nullptr : &tokens));
    for (int l = a.levels - 1; l >= 0; --l) {
      const std::string L = std::to_string(l);
      Tensor u =
          maskLayer(ref::convTranspose2x2(x, V("up" + L + ".weight"), &V("up" + L + ".bias")));
      x = cbr(ref::concat(u, skips[l]), "dec" + L, 1);
      x = cbr(x, "dec" + L, 2);
    }
    return ref::conv2d(x, V("head0.weight"), &V("head0.bias"), 1, 0);
  }
};

Tensor normalisedInput(const ModelInfo& info, const std::vector<std::int16_t>& hu, int w, int h,
                       int pw, int ph) {
  const int channels = info.architecture.inputChannels;
  Tensor t = Tensor::zeros({1, channels, ph, pw});
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < ph; ++y)
      for (int x = 0; x < pw; ++x)
        t.at(0, c, y, x) = info.input.apply(
            (y < h && x < w) ? hu[(static_cast<std::size_t>(c) * h + y) * w + x] : -1024);
  return t;
}

struct EngineRun {
  std::vector<std::uint8_t> labels;
  std::vector<float> logits;
  infer::SliceStats stats;
};

EngineRun runEngine(infer::InferenceEngine& engine, const std::vector<std::int16_t>& hu,
                    int channels, const BlockMask& mask, int classes) {
  const int w = engine.width(), h = engine.height();
  std::vector<const std::int16_t*> slices;
  for (int c = 0; c < channels; ++c)
    slices.push_back(hu.data() + static_cast<std::size_t>(c) * w * h);
  EngineRun r;
  r.labels.resize(static_cast<std::size_t>(w) * h);
  r.logits.resize(static_cast<std::size_t>(classes) * w * h);
  engine.run(slices, mask, r.labels.data(), &r.stats, r.logits.data());
  return r;
}

double compareLogits(const EngineRun& r, const Tensor& expected, int w, int h,
                     const BlockMask* mask) {
  double worst = 0;
  for (int c = 0; c < expected.c(); ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        if (mask && !mask->test(x / 16, y / 16)) continue;
        const double a = r.logits[(static_cast<std::size_t>(c) * h + y) * w + x];
        const double b = expected.at(0, c, y, x);
        worst = std::max(worst, std::abs(a - b) / std::max(1.0, std::abs(b)));
      }
  return worst;
}

TEST(InferenceEngine, DenseMatchesTheReferenceNetwork) {
  const Model model = smallModel();
  const int w = 48, h = 32;
  auto engine = infer::InferenceEngine::create(model, w, h);
  ASSERT_TRUE(engine.ok()) << engine.error().toString();
  const auto hu = randomSlices(3, w, h, 1);
  const EngineRun r = runEngine(**engine, hu, 3, BlockMask((*engine)->grid(), true), 4);
  Emulator emulator{model, w, h};
  const Tensor expected = emulator.run(normalisedInput(model.info, hu, w, h, w, h));
  // Folded batch norm and a different summation order: float rounding only.
  EXPECT_LT(compareLogits(r, expected, w, h, nullptr), 1e-4);
  int agree = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int best = 0;
      for (int c = 1; c < 4; ++c)
        if (expected.at(0, c, y, x) > expected.at(0, best, y, x)) best = c;
      agree += r.labels[y * w + x] == best;
    }
  EXPECT_GE(agree, w * h - 2);  // only exact ties may differ
  EXPECT_NEAR(r.stats.flops, r.stats.denseFlops, 1e-6 * r.stats.denseFlops);
}

TEST(InferenceEngine, SparseWithEveryBlockActiveIsBitIdenticalToDense) {
  const Model model = smallModel();
  const int w = 48, h = 32;
  auto engine = std::move(*infer::InferenceEngine::create(model, w, h));
  const auto hu = randomSlices(3, w, h, 2);
  BlockMask partial(engine->grid(), false);
  partial.set(1, 1);
  // A partial run first leaves state behind that the full run must clear.
  runEngine(*engine, hu, 3, partial, 4);
  const EngineRun a = runEngine(*engine, hu, 3, BlockMask(engine->grid(), true), 4);
  auto fresh = std::move(*infer::InferenceEngine::create(model, w, h));
  const EngineRun b = runEngine(*fresh, hu, 3, BlockMask(fresh->grid(), true), 4);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(0, std::memcmp(a.logits.data(), b.logits.data(), a.logits.size() * 4));
}

TEST(InferenceEngine, SparseMatchesTheEmulatedSparseSemantics) {
  for (int levels : {2, 4}) {
    SCOPED_TRACE(levels);
    const Model model = smallModel(levels, 7);
    const int w = levels == 4 ? 80 : 40, h = levels == 4 ? 64 : 37;  // odd sizes pad
    infer::EngineOptions options;
    options.denseFallbackFraction = 1.0;
    auto engine = std::move(*infer::InferenceEngine::create(model, w, h, options));
    const BlockGrid& grid = engine->grid();
    const int pw = grid.paddedWidth(), ph = grid.paddedHeight();
    Emulator emulator{model, pw, ph};
    emulator.recording = true;
    std::vector<std::int16_t> air(static_cast<std::size_t>(3) * w * h, -1024);
    emulator.run(normalisedInput(model.info, air, w, h, pw, ph));
    emulator.recording = false;

    const auto hu = randomSlices(3, w, h, 3);
    BlockMask mask(grid, false);
    mask.set(0, 0);
    mask.set(1, 0);
    mask.set(grid.blocksX() - 1, grid.blocksY() - 1);
    if (levels == 4) mask.set(2, 2);
    // Two different masks in a row exercise the clean-up of stale blocks.
    BlockMask other(grid, false);
    other.set(1, 1);
    runEngine(*engine, hu, 3, other, 4);
    const EngineRun r = runEngine(*engine, hu, 3, mask, 4);
    emulator.mask = &mask;
    const Tensor expected = emulator.run(normalisedInput(model.info, hu, w, h, pw, ph));
    EXPECT_LT(compareLogits(r, expected, w, h, &mask), 1e-4);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (!mask.test(x / 16, y / 16)) {
          ASSERT_EQ(r.labels[y * w + x], 0) << x << "," << y;
        }
    EXPECT_LT(r.stats.flops, 0.8 * r.stats.denseFlops);
    EXPECT_NEAR(r.stats.activeFraction[0], mask.activeFraction(), 1e-12);
  }
}

TEST(InferenceEngine, EmptyMaskComputesNothingAndLabelsBackground) {
  const Model model = smallModel();
  auto engine = std::move(*infer::InferenceEngine::create(model, 32, 32));
  const auto hu = randomSlices(3, 32, 32, 4);
  const EngineRun r = runEngine(*engine, hu, 3, BlockMask(engine->grid(), false), 4);
  EXPECT_EQ(r.stats.flops, 0.0);
  for (auto v : r.labels) ASSERT_EQ(v, 0);
}

// EngineOptions::denseFallbackFraction: a mask whose active fraction
// exceeds it runs every block, which is the dense run exactly.
TEST(InferenceEngine, DenseFallbackAboveTheThresholdComputesEveryBlock) {
  const Model model = smallModel();
  const int w = 80, h = 64;  // 5 × 4 = 20 blocks
  const infer::EngineOptions defaults;
  ASSERT_EQ(defaults.denseFallbackFraction, 0.85);
  auto engine = std::move(*infer::InferenceEngine::create(model, w, h, defaults));
  const BlockGrid& grid = engine->grid();
  ASSERT_EQ(grid.blockCount(), 20);
  const auto hu = randomSlices(3, w, h, 31);
  auto maskWithInactive = [&](int inactive) {
    BlockMask mask(grid, true);
    for (int i = 0; i < inactive; ++i) mask.set((7 * i + 3) % grid.blockCount(), false);
    return mask;
  };
  const BlockMask ninety = maskWithInactive(2), boundary = maskWithInactive(3),
                  half = maskWithInactive(10);
  ASSERT_EQ(ninety.activeFraction(), 0.9);
  ASSERT_EQ(boundary.activeFraction(), 0.85);
  ASSERT_EQ(half.activeFraction(), 0.5);
  const EngineRun dense = runEngine(*engine, hu, 3, BlockMask(grid, true), 4);

  auto inactivePixelsHaveNoLogits = [&](const EngineRun& r, const BlockMask& mask) {
    int nan = 0, inactive = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (!mask.test(x / 16, y / 16)) {
          ++inactive;
          nan += std::isnan(r.logits[static_cast<std::size_t>(y) * w + x]);
        }
    return inactive > 0 && nan == inactive;
  };

  // 90 % active > 0.85: every block, the dense labels, logits and FLOPs.
  const EngineRun r90 = runEngine(*engine, hu, 3, ninety, 4);
  EXPECT_EQ(r90.labels, dense.labels);
  EXPECT_EQ(0, std::memcmp(r90.logits.data(), dense.logits.data(), dense.logits.size() * 4));
  EXPECT_EQ(r90.stats.flops, dense.stats.flops);
  EXPECT_NEAR(r90.stats.flops, r90.stats.denseFlops, 1e-6 * r90.stats.denseFlops);
  for (int l = 0; l <= r90.stats.levels; ++l) {
    EXPECT_EQ(r90.stats.activeFraction[l], 1.0) << "level " << l;
    EXPECT_EQ(r90.stats.decoderFraction[l], 1.0) << "level " << l;
  }

  // At the threshold (not above it) and at 50 %: only the active blocks.
  for (const BlockMask* mask : {&boundary, &half}) {
    SCOPED_TRACE(mask->activeFraction());
    const EngineRun r = runEngine(*engine, hu, 3, *mask, 4);
    EXPECT_EQ(r.stats.activeFraction[0], mask->activeFraction());
    EXPECT_LT(r.stats.flops, dense.stats.flops);
    EXPECT_TRUE(inactivePixelsHaveNoLogits(r, *mask));
  }

  // A higher threshold keeps the 90 % mask sparse.
  infer::EngineOptions strict;
  strict.denseFallbackFraction = 0.95;
  auto sparse = std::move(*infer::InferenceEngine::create(model, w, h, strict));
  const EngineRun r = runEngine(*sparse, hu, 3, ninety, 4);
  EXPECT_EQ(r.stats.activeFraction[0], 0.9);
  EXPECT_LT(r.stats.flops, dense.stats.flops);
  EXPECT_TRUE(inactivePixelsHaveNoLogits(r, ninety));
}

TEST(InferenceEngine, RefusesModelsItCannotRun) {
  ModelInfo info = smallInfo();
  info.architecture.baseWidth = 8;
  Model model = std::move(*makeModel(info, 1));
  auto engine = infer::InferenceEngine::create(model, 32, 32);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.error().code, StatusCode::kUnsupported);
}

}  // namespace
}  // namespace tessera::models

namespace tessera::models {
namespace {

Model deepSupervisedModel() {
  ModelInfo info = smallInfo(3);
  info.architecture.deepSupervision = true;
  return std::move(*makeModel(info, 11));
}

TEST(InferenceEngineSettling, InfiniteMarginChangesNothing) {
  const Model model = deepSupervisedModel();
  auto plain = std::move(*infer::InferenceEngine::create(model, 64, 48));
  infer::EngineOptions options;
  options.settleMargin = 1e30;
  auto settling = std::move(*infer::InferenceEngine::create(model, 64, 48, options));
  ASSERT_TRUE(settling->canSettle());
  const auto hu = randomSlices(3, 64, 48, 21);
  BlockMask mask(plain->grid(), true);
  mask.set(0, 0, false);
  const EngineRun a = runEngine(*plain, hu, 3, mask, 4);
  const EngineRun b = runEngine(*settling, hu, 3, mask, 4);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(b.stats.settledFraction, 0.0);
}

TEST(InferenceEngineSettling, SettledBlocksAreUniformAndSkipWork) {
  const Model model = deepSupervisedModel();
  infer::EngineOptions options;
  options.settleMargin = 1e-6;  // settle every block whose coarse labels agree
  auto settling = std::move(*infer::InferenceEngine::create(model, 64, 64, options));
  auto plain = std::move(*infer::InferenceEngine::create(model, 64, 64));
  // Uniform tissue: coarse heads agree across whole blocks.
  std::vector<std::int16_t> hu(3 * 64 * 64, 40);
  const BlockMask all(plain->grid(), true);
  const EngineRun r = runEngine(*settling, hu, 3, all, 4);
  const EngineRun p = runEngine(*plain, hu, 3, all, 4);
  ASSERT_GT(r.stats.settledFraction, 0.0);
  EXPECT_LT(r.stats.flops, p.stats.flops);
  EXPECT_LT(r.stats.decoderFraction[0], 1.0);
  // Every 16×16 block is either uniform (settled) or computed by head0.
  int uniform = 0;
  for (int by = 0; by < 4; ++by)
    for (int bx = 0; bx < 4; ++bx) {
      bool same = true;
      const std::uint8_t first = r.labels[(by * 16) * 64 + bx * 16];
      for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x) same &= r.labels[(by * 16 + y) * 64 + bx * 16 + x] == first;
      uniform += same;
    }
  EXPECT_GE(uniform, static_cast<int>(std::lround(r.stats.settledFraction * 16)));
}

}  // namespace
}  // namespace tessera::models
