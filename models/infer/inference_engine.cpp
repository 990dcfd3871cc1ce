#include "models/infer/inference_engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/parallel.h"
#include "models/infer/attention.h"
#include "models/infer/kernels/kernels.h"

namespace tessera::models::infer {

namespace {

enum class StepKind { kConv, kPool, kUp, kAttention };

struct Step {
  StepKind kind;
  int level;  // level of the output
  FeatureMap in, out;
  int weights = -1;  // index into the engine's packed weights of that kind
};

// A horizontal run of output pixels: row y, columns [x0, x0 + length).
struct Segment {
  int y, x0, length;
};

}  // namespace

struct InferenceEngine::Impl {
  ModelInfo info;
  EngineOptions options;
  BlockGrid grid;
  int levels = 0;
  FeatureMap input;
  std::vector<Step> steps;
  std::vector<Conv3x3Weights> convs;
  std::vector<UpConvWeights> ups;
  HeadWeights head;
  AttentionPacked attention;
  FeatureMap headInput;
  std::vector<FeatureMap> owned;  // every buffer, for calibration
  std::vector<std::uint8_t> paddedLabels;

  // Per-run scratch: active mask per level and its row segments.
  std::vector<BlockMask> levelMask;
  std::vector<std::vector<Segment>> levelSegments;
  std::vector<int> tokens;

  void prepareInput(std::span<const std::int16_t* const> slices);
  void planLevels(const BlockMask& mask);
  double execute(const Step& step);
  void runSteps(std::uint8_t* labels, SliceStats* stats);
};

InferenceEngine::InferenceEngine() : impl_(std::make_unique<Impl>()) {}
InferenceEngine::~InferenceEngine() = default;
int InferenceEngine::width() const { return impl_->grid.width(); }
int InferenceEngine::height() const { return impl_->grid.height(); }
const BlockGrid& InferenceEngine::grid() const { return impl_->grid; }

Result<std::unique_ptr<InferenceEngine>> InferenceEngine::create(const Model& model, int width,
                                                                 int height,
                                                                 const EngineOptions& options) {
  TESSERA_RETURN_IF_ERROR(model.info.validate());
  const UNetConfig& a = model.info.architecture;
  if (a.baseWidth % 16 != 0)
    return Error{StatusCode::kUnsupported,
                 "the inference engine needs a base width that is a multiple of 16 (model has " +
                     std::to_string(a.baseWidth) + ")"};
  if (a.classes > 16)
    return Error{StatusCode::kUnsupported, "the inference engine supports up to 16 classes"};
  TESSERA_ASSIGN_OR_RETURN(BlockGrid grid, BlockGrid::create(width, height, model.info.blockSize));
  if (grid.maxLevel() < a.levels)
    return Error{StatusCode::kUnsupported, "blocks are too small for this many levels"};

  std::unique_ptr<InferenceEngine> engine(new InferenceEngine());
  Impl& e = *engine->impl_;
  e.info = model.info;
  e.options = options;
  e.grid = grid;
  e.levels = a.levels;
  const ParameterSet& params = model.net->parameters();
  auto P = [&](const std::string& name) -> const float* {
    return params.find(name)->value.data();
  };
  auto foldedConv = [&](const std::string& prefix, int index, int cin, int cout) {
    const std::string i = std::to_string(index);
    const std::string bn = prefix + ".bn" + i;
    std::vector<float> scale(cout), shift(cout);
    for (int c = 0; c < cout; ++c) {
      scale[c] = P(bn + ".weight")[c] / std::sqrt(P(bn + ".running_var")[c] + a.bnEps);
      shift[c] = P(bn + ".bias")[c] - P(bn + ".running_mean")[c] * scale[c];
    }
    e.convs.push_back(packConv3x3(P(prefix + ".conv" + i + ".weight"), nullptr, scale.data(),
                                  shift.data(), cout, cin));
    return static_cast<int>(e.convs.size()) - 1;
  };
  auto buffer = [&](int channels, int level) {
    FeatureMap map(channels, grid.levelHeight(level), grid.levelWidth(level));
    e.owned.push_back(map);
    return map;
  };

  e.input = buffer(a.inputChannels, 0);
  std::vector<FeatureMap> concat(a.levels);
  FeatureMap x = e.input;
  int cin = a.inputChannels;
  for (int l = 0; l < a.levels; ++l) {
    const int c = static_cast<int>(a.channels(l));
    const std::string p = "enc" + std::to_string(l);
    concat[l] = buffer(2 * c, l);
    const FeatureMap encA = buffer(c, l);
    const FeatureMap skip = concat[l].channelView(c / 16, c / 16);
    e.steps.push_back({StepKind::kConv, l, x, encA, foldedConv(p, 1, cin, c)});
    e.steps.push_back({StepKind::kConv, l, encA, skip, foldedConv(p, 2, c, c)});
    const FeatureMap pooled = buffer(c, l + 1);
    e.steps.push_back({StepKind::kPool, l + 1, skip, pooled, -1});
    x = pooled;
    cin = c;
  }
  const int cb = static_cast<int>(a.channels(a.levels));
  const FeatureMap b1 = buffer(cb, a.levels), b2 = buffer(cb, a.levels);
  e.steps.push_back({StepKind::kConv, a.levels, x, b1, foldedConv("bott", 1, cin, cb)});
  e.steps.push_back({StepKind::kConv, a.levels, b1, b2, foldedConv("bott", 2, cb, cb)});
  x = b2;
  if (a.attentionHeads > 0) {
    const FeatureMap b3 = buffer(cb, a.levels);
    e.attention = packAttention(P("att.q.weight"), P("att.q.bias"), P("att.k.weight"),
                                P("att.k.bias"), P("att.v.weight"), P("att.v.bias"),
                                P("att.o.weight"), P("att.o.bias"), cb, a.attentionHeads);
    e.steps.push_back({StepKind::kAttention, a.levels, b2, b3, -1});
    x = b3;
  }
  for (int l = a.levels - 1; l >= 0; --l) {
    const int c = static_cast<int>(a.channels(l));
    const std::string L = std::to_string(l);
    e.ups.push_back(packUpConv(P("up" + L + ".weight"), P("up" + L + ".bias"),
                               static_cast<int>(a.channels(l + 1)), c));
    e.steps.push_back({StepKind::kUp, l, x, concat[l].channelView(0, c / 16),
                       static_cast<int>(e.ups.size()) - 1});
    const FeatureMap decA = buffer(c, l), decB = buffer(c, l);
    e.steps.push_back({StepKind::kConv, l, concat[l], decA, foldedConv("dec" + L, 1, 2 * c, c)});
    e.steps.push_back({StepKind::kConv, l, decA, decB, foldedConv("dec" + L, 2, c, c)});
    x = decB;
  }
  e.headInput = x;
  e.head = packHead(P("head0.weight"), P("head0.bias"), a.classes, static_cast<int>(a.channels(0)));
  e.paddedLabels.assign(static_cast<std::size_t>(grid.paddedWidth()) * grid.paddedHeight(), 0);

  // Calibration: the dense network on air gives every buffer's background.
  const int channels = a.inputChannels;
  std::vector<std::int16_t> air(static_cast<std::size_t>(width) * height, -1024);
  std::vector<const std::int16_t*> airSlices(channels, air.data());
  BlockMask all(grid, true);
  SliceStats ignored;
  engine->run(airSlices, all, e.paddedLabels.data(), &ignored);
  for (FeatureMap& map : e.owned) {
    if (map.data() == e.input.data()) continue;
    const int cy = map.height() / 2, cx = map.width() / 2;
    for (int b = 0; b < map.channelBlocks(); ++b)
      std::memcpy(map.background() + 16 * b, map.pixel(b, cy, cx), 64);
    const int blockPixels = map.width() / grid.blocksX();
    std::vector<int> allBlocks(grid.blockCount());
    for (int i = 0; i < grid.blockCount(); ++i) allBlocks[i] = i;
    map.fillBackground(allBlocks, grid.blocksX(), blockPixels);
  }
  for (Step& step : e.steps) step.out.written() = BlockMask(grid, false);
  return engine;
}

void InferenceEngine::Impl::prepareInput(std::span<const std::int16_t* const> slices) {
  const int channels = static_cast<int>(slices.size());
  const int w = grid.width(), h = grid.height();
  const int pw = grid.paddedWidth(), ph = grid.paddedHeight();
  const float air = info.input.apply(-1024.0f);
  parallelFor(0, ph, [&](std::int64_t y) {
    float* row = input.pixel(0, static_cast<int>(y), 0);
    for (int x = 0; x < pw; ++x) {
      float* px = row + 16 * x;
      for (int c = 0; c < channels; ++c)
        px[c] = (y < h && x < w) ? info.input.apply(slices[c][y * w + x]) : air;
    }
  });
}

void InferenceEngine::Impl::planLevels(const BlockMask& mask) {
  levelMask.assign(levels + 1, mask);
  levelSegments.assign(levels + 1, {});
  for (int l = 0; l <= levels; ++l) {
    if (mask.activeFraction() > options.denseFallbackFraction) levelMask[l].fill(true);
    const BlockMask& m = levelMask[l];
    const int b = grid.levelBlockSize(l);
    auto& segments = levelSegments[l];
    for (int by = 0; by < grid.blocksY(); ++by) {
      for (int bx = 0; bx < grid.blocksX();) {
        if (!m.test(bx, by)) {
          ++bx;
          continue;
        }
        int end = bx;
        while (end < grid.blocksX() && m.test(end, by)) ++end;
        for (int r = 0; r < b; ++r) segments.push_back({by * b + r, bx * b, (end - bx) * b});
        bx = end;
      }
    }
  }
  tokens.clear();
  const int w = grid.levelWidth(levels);
  for (const Segment& s : levelSegments[levels])
    for (int x = s.x0; x < s.x0 + s.length; ++x) tokens.push_back(s.y * w + x);
}

double InferenceEngine::Impl::execute(const Step& step) {
  FeatureMap out = step.out;
  const BlockMask& active = levelMask[step.level];
  // Blocks computed for the previous slice but not this one go back to background.
  BlockMask& written = out.written();
  if (written.size() == active.size()) {
    std::vector<int> stale;
    for (int i = 0; i < active.size(); ++i)
      if (written.test(i) && !active.test(i)) stale.push_back(i);
    if (!stale.empty()) out.fillBackground(stale, grid.blocksX(), grid.levelBlockSize(step.level));
  }
  written = active;

  const auto& segments = levelSegments[step.level];
  const std::int64_t count = static_cast<std::int64_t>(segments.size());
  double pixels = 0;
  for (const Segment& s : segments) pixels += s.length;
  switch (step.kind) {
    case StepKind::kConv: {
      const Conv3x3Weights& w = convs[step.weights];
      const int pairs = (w.outBlocks() + 1) / 2;
      parallelChunks(0, count * pairs, [&](std::int64_t begin, std::int64_t end, int) {
        for (std::int64_t i = begin; i < end; ++i) {
          const Segment& s = segments[i / pairs];
          const int ocb = static_cast<int>(i % pairs) * 2;
          conv3x3Segment(w, step.in, out, s.y, s.x0, s.length, ocb,
                         std::min(ocb + 2, w.outBlocks()), true);
        }
      });
      return 2.0 * 9.0 * w.cin * w.cout * pixels;
    }
    case StepKind::kPool:
      parallelFor(0, count, [&](std::int64_t i) {
        const Segment& s = segments[i];
        maxPoolSegment(step.in, out, s.y, s.x0, s.length);
      });
      return 0.0;
    case StepKind::kUp: {
      // Output segments at this level come from input rows at the level below.
      const UpConvWeights& w = ups[step.weights];
      const auto& coarse = levelSegments[step.level + 1];
      const std::int64_t n = static_cast<std::int64_t>(coarse.size());
      const int ocbs = w.outBlocks();
      parallelChunks(0, n * ocbs, [&](std::int64_t begin, std::int64_t end, int) {
        for (std::int64_t i = begin; i < end; ++i) {
          const Segment& s = coarse[i / ocbs];
          const int ocb = static_cast<int>(i % ocbs);
          upConvSegment(w, step.in, out, s.y, s.x0, s.length, ocb, ocb + 1);
        }
      });
      return 2.0 * 4.0 * w.cin * w.cout * pixels / 4.0;
    }
    case StepKind::kAttention: return attentionTokens(attention, step.in, out, tokens);
  }
  return 0.0;
}

void InferenceEngine::run(std::span<const std::int16_t* const> slices, const BlockMask& mask,
                          std::uint8_t* labels, SliceStats* stats, float* logits) {
  Impl& e = *impl_;
  e.prepareInput(slices);
  e.planLevels(mask);
  SliceStats s;
  s.levels = e.levels;
  for (const Step& step : e.steps) s.flops += e.execute(step);
  // Output head fused with argmax, on active blocks only; the rest is background.
  const auto& segments = e.levelSegments[0];
  const int pw = e.grid.paddedWidth();
  std::fill(e.paddedLabels.begin(), e.paddedLabels.end(), 0);
  std::vector<float> paddedLogits;
  if (logits)
    paddedLogits.assign(static_cast<std::size_t>(pw) * e.grid.paddedHeight() * 16, NAN);
  parallelFor(0, static_cast<std::int64_t>(segments.size()), [&](std::int64_t i) {
    const Segment& seg = segments[i];
    headArgmaxSegment(e.head, e.headInput, seg.y, seg.x0, seg.length,
                      e.paddedLabels.data() + static_cast<std::size_t>(seg.y) * pw, nullptr,
                      logits ? paddedLogits.data() + static_cast<std::size_t>(seg.y) * pw * 16
                             : nullptr);
  });
  double pixels = 0;
  for (const Segment& seg : segments) pixels += seg.length;
  s.flops += 2.0 * e.head.cin * e.head.classes * pixels;
  for (int l = 0; l <= e.levels && l < kMaxLevels; ++l) s.activeFraction[l] = e.levelMask[l].activeFraction();
  s.denseFlops = e.info.architecture.forwardFlops(e.grid.paddedHeight(), e.grid.paddedWidth(),
                                                  /*withDeepSupervision=*/false);
  const int w = e.grid.width(), h = e.grid.height();
  for (int y = 0; y < h; ++y)
    std::memcpy(labels + static_cast<std::size_t>(y) * w,
                e.paddedLabels.data() + static_cast<std::size_t>(y) * pw, w);
  if (logits) {
    const int classes = e.head.classes;
    for (int c = 0; c < classes; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          logits[(static_cast<std::size_t>(c) * h + y) * w + x] =
              paddedLogits[(static_cast<std::size_t>(y) * pw + x) * 16 + c];
  }
  if (stats) *stats = s;
}

}  // namespace tessera::models::infer
