#include "models/infer/inference_engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/parallel.h"
#include "models/backend/plugin_layer.h"
#include "models/graph/graph_net.h"
#include "models/infer/attention.h"
#include "models/infer/internal/kernels.h"
#include "models/net/unet_layers.h"

namespace tessera::models::infer {

namespace {

enum class StepKind { kConv, kPool, kUp, kAttention, kPlugin };

// A plugin layer with copies of its parameters (kNCHW).
struct PluginStep {
  const tessera_layer* layer = nullptr;
  std::vector<Tensor> params;
};

struct Step {
  StepKind kind;
  int level;  // level of the output
  FeatureMap in, out;
  int weights = -1;      // index into the engine's packed weights of that kind
  bool decoder = false;  // runs on the decoder's (unsettled) block set
  int headAfter = -1;    // level whose head may settle blocks after this step
};

}  // namespace

struct InferenceEngine::Impl {
  ModelInfo info;
  EngineOptions options;
  BlockGrid grid;
  int levels = 0;
  FeatureMap input;
  std::vector<Step> steps;
  std::vector<Conv2d3x3Weights> convs;
  std::vector<ConvTranspose2x2Weights> ups;
  std::vector<Conv2d1x1ArgmaxWeights> heads;  // per level; empty weights where the model has none
  std::vector<FeatureMap> headInputs;
  AttentionPacked attention;
  std::vector<PluginStep> plugins;
  std::vector<FeatureMap> owned;  // every buffer, for calibration
  std::vector<std::uint8_t> paddedLabels;
  std::vector<std::uint8_t> levelLabels;
  std::vector<float> levelMargins;

  // Per-slice state.
  BlockMask active;                   // encoder blocks
  std::vector<BlockMask> decoderSet;  // decoder blocks computed, per level
  BlockMask undecided;                // blocks whose labels finer levels still decide
  std::vector<int> tokens;
  double settledBlocks = 0;

  // One RowRun per feature row of each run of adjacent active blocks.
  std::vector<RowRun> rowRunsOf(const BlockMask& mask, int level) const;
  void prepareInput(std::span<const std::int16_t* const> slices);
  double execute(const Step& step, const BlockMask& mask);
  void runPlugin(const Step& step, const BlockMask& mask, const std::vector<RowRun>& runs);
  double settle(int level);
  void fillBlockLabel(int block, std::uint8_t label);

  // An imported network (Model::graph) runs whole slices on the CPU backend
  // instead of the steps above, at a size padded to its size multiple.
  std::shared_ptr<const GraphNet> graph;
  std::unique_ptr<Backend> backend;
  std::int64_t graphHeight = 0, graphWidth = 0;
  void runGraph(std::span<const std::int16_t* const> slices, std::uint8_t* labels,
                SliceStats* stats, float* logits);
};

InferenceEngine::InferenceEngine() : impl_(std::make_unique<Impl>()) {}
InferenceEngine::~InferenceEngine() = default;
int InferenceEngine::width() const {
  return impl_->grid.width();
}
int InferenceEngine::height() const {
  return impl_->grid.height();
}
const BlockGrid& InferenceEngine::grid() const {
  return impl_->grid;
}

bool InferenceEngine::canSettle() const {
  for (int l = 1; l < impl_->levels; ++l)
    if (impl_->heads[l].cin > 0) return true;
  return false;
}

void InferenceEngine::setSettleMargin(double margin) {
  impl_->options.settleMargin = margin;
}

Result<std::unique_ptr<InferenceEngine>> InferenceEngine::create(const Model& model, int width,
                                                                 int height,
                                                                 const EngineOptions& options) {
  TESSERA_RETURN_IF_ERROR(model.info.validate());
  if (model.graph) {
    TESSERA_ASSIGN_OR_RETURN(BlockGrid grid,
                             BlockGrid::create(width, height, model.info.blockSize));
    std::unique_ptr<InferenceEngine> engine(new InferenceEngine());
    Impl& e = *engine->impl_;
    e.info = model.info;
    e.options = options;
    e.grid = grid;
    e.graph = model.graph;
    const std::int64_t m = e.graph->sizeMultiple();
    e.graphHeight = (height + m - 1) / m * m;
    e.graphWidth = (width + m - 1) / m * m;
    TESSERA_RETURN_IF_ERROR(e.graph->checkShapes(e.graphHeight, e.graphWidth).status());
    e.backend = makeCpuBackend();
    return engine;
  }
  if (const Result<KernelIsa> isa = kernelIsa(); !isa.ok()) return isa.error();
  const UNetConfig& a = model.info.architecture;
  TESSERA_RETURN_IF_ERROR(a.checkPluginLayers());
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
  auto P = [&](const std::string& name) -> const float* { return params.find(name)->value.data(); };
  // Batch norm folded into the conv: scale = γ / sqrt(var + eps), shift = β − mean·scale.
  auto foldedConv = [&](const Layer& layer) {
    const int cin = static_cast<int>(layer.inChannels), cout = static_cast<int>(layer.outChannels);
    const float* gamma = P(layer.parameters[1].name);
    const float* beta = P(layer.parameters[2].name);
    const float* mean = P(layer.parameters[3].name);
    const float* var = P(layer.parameters[4].name);
    std::vector<float> scale(cout), shift(cout);
    for (int c = 0; c < cout; ++c) {
      scale[c] = gamma[c] / std::sqrt(var[c] + a.bnEps);
      shift[c] = beta[c] - mean[c] * scale[c];
    }
    e.convs.push_back(
        packConv2d3x3(P(layer.parameters[0].name), nullptr, scale.data(), shift.data(), cout, cin));
    return static_cast<int>(e.convs.size()) - 1;
  };
  auto buffer = [&](std::int64_t channels, int level) {
    FeatureMap map(static_cast<int>(channels), grid.levelHeight(level), grid.levelWidth(level));
    e.owned.push_back(map);
    return map;
  };

  // One step per computed layer of the U-Net, each writing its own buffer,
  // except that a concatenation is no step: the up-convolution and the skip
  // write the two halves of its buffer.
  const std::vector<Layer> layers = unetLayers(a);
  std::vector<FeatureMap> outputs(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& cat = layers[i];
    if (cat.kind != LayerKind::kConcat) continue;
    outputs[i] = buffer(cat.outChannels, cat.level);
    const int first = static_cast<int>(layers[cat.inputs[0]].outChannels / 16);
    const int second = static_cast<int>(layers[cat.inputs[1]].outChannels / 16);
    outputs[cat.inputs[0]] = outputs[i].channelView(0, first);
    outputs[cat.inputs[1]] = outputs[i].channelView(first, second);
  }
  e.input = buffer(a.inputChannels, 0);
  e.heads.resize(a.levels);
  e.headInputs.resize(a.levels);
  std::vector<int> stepOf(layers.size(), -1);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& layer = layers[i];
    const FeatureMap in = layer.inputs[0] < 0 ? e.input : outputs[layer.inputs[0]];
    if (outputs[i].channels() == 0 && layer.kind != LayerKind::kHead)
      outputs[i] = buffer(layer.outChannels, layer.level);
    const FeatureMap& out = outputs[i];
    const int cin = static_cast<int>(layer.inChannels), cout = static_cast<int>(layer.outChannels);
    auto param = [&](int k) { return P(layer.parameters[k].name); };
    switch (layer.kind) {
      case LayerKind::kConvBnRelu:
        e.steps.push_back(
            {StepKind::kConv, layer.level, in, out, foldedConv(layer), layer.decoder});
        break;
      case LayerKind::kMaxPool:
        e.steps.push_back({StepKind::kPool, layer.level, in, out});
        break;
      case LayerKind::kAttention:
        e.attention = packAttention(param(0), param(1), param(2), param(3), param(4), param(5),
                                    param(6), param(7), cout, a.attentionHeads);
        e.steps.push_back({StepKind::kAttention, layer.level, in, out});
        break;
      case LayerKind::kConvTranspose:
        e.ups.push_back(packConvTranspose2x2(param(0), param(1), cin, cout));
        e.steps.push_back({StepKind::kUp, layer.level, in, out, static_cast<int>(e.ups.size()) - 1,
                           layer.decoder});
        break;
      case LayerKind::kPlugin: {
        PluginStep plugin{layer.plugin, {}};
        for (const LayerParameter& p : layer.parameters)
          plugin.params.push_back(params.find(p.name)->value.clone());
        e.plugins.push_back(std::move(plugin));
        e.steps.push_back({StepKind::kPlugin, layer.level, in, out,
                           static_cast<int>(e.plugins.size()) - 1, layer.decoder});
        break;
      }
      case LayerKind::kConcat:
        continue;
      case LayerKind::kHead:
        e.headInputs[layer.level] = in;
        e.heads[layer.level] = packConv2d1x1Argmax(param(0), param(1), cout, cin);
        // Coarser heads may settle blocks once their decoder level is done.
        if (layer.level >= 1) e.steps[stepOf[layer.inputs[0]]].headAfter = layer.level;
        continue;
    }
    stepOf[i] = static_cast<int>(e.steps.size()) - 1;
  }
  e.paddedLabels.assign(static_cast<std::size_t>(grid.paddedWidth()) * grid.paddedHeight(), 0);
  e.levelLabels.resize(e.paddedLabels.size());
  e.levelMargins.resize(e.paddedLabels.size());

  // Calibration: the dense network on air gives every buffer's background.
  const int channels = a.inputChannels;
  const double margin = e.options.settleMargin;
  e.options.settleMargin = 0.0;
  std::vector<std::int16_t> air(static_cast<std::size_t>(width) * height, -1024);
  std::vector<const std::int16_t*> airSlices(channels, air.data());
  std::vector<std::uint8_t> scratch(static_cast<std::size_t>(width) * height);
  SliceStats ignored;
  engine->run(airSlices, BlockMask(grid, true), scratch.data(), &ignored);
  TESSERA_RETURN_IF_ERROR(takePluginLayerFailure());
  e.options.settleMargin = margin;
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

std::vector<RowRun> InferenceEngine::Impl::rowRunsOf(const BlockMask& m, int level) const {
  std::vector<RowRun> runs;
  const int b = grid.levelBlockSize(level);
  for (int by = 0; by < grid.blocksY(); ++by) {
    for (int bx = 0; bx < grid.blocksX();) {
      if (!m.test(bx, by)) {
        ++bx;
        continue;
      }
      int end = bx;
      while (end < grid.blocksX() && m.test(end, by)) ++end;
      for (int r = 0; r < b; ++r) runs.push_back({by * b + r, bx * b, (end - bx) * b});
      bx = end;
    }
  }
  return runs;
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

double InferenceEngine::Impl::execute(const Step& step, const BlockMask& mask) {
  FeatureMap out = step.out;
  // Blocks computed for the previous slice (or level set) but not now go
  // back to background, so halos never read stale values.
  BlockMask& written = out.written();
  if (written.size() == mask.size()) {
    std::vector<int> stale;
    for (int i = 0; i < mask.size(); ++i)
      if (written.test(i) && !mask.test(i)) stale.push_back(i);
    if (!stale.empty()) out.fillBackground(stale, grid.blocksX(), grid.levelBlockSize(step.level));
  }
  written = mask;

  const std::vector<RowRun> runs = rowRunsOf(mask, step.level);
  const std::int64_t count = static_cast<std::int64_t>(runs.size());
  double pixels = 0;
  for (const RowRun& r : runs) pixels += r.length;
  switch (step.kind) {
    case StepKind::kConv: {
      const Conv2d3x3Weights& w = convs[step.weights];
      const int pairs = (w.outBlocks() + 1) / 2;
      parallelChunks(0, count * pairs, [&](std::int64_t begin, std::int64_t end, int) {
        for (std::int64_t i = begin; i < end; ++i) {
          const int ocb = static_cast<int>(i % pairs) * 2;
          conv2d3x3Rows(w, step.in, out, runs[i / pairs], ocb, std::min(ocb + 2, w.outBlocks()),
                        true);
        }
      });
      return 2.0 * 9.0 * w.cin * w.cout * pixels;
    }
    case StepKind::kPool:
      parallelFor(0, count, [&](std::int64_t i) { maxPool2x2Rows(step.in, out, runs[i]); });
      return 0.0;
    case StepKind::kUp: {
      // Output blocks at this level come from the same blocks one level down.
      const ConvTranspose2x2Weights& w = ups[step.weights];
      const std::vector<RowRun> coarse = rowRunsOf(mask, step.level + 1);
      const std::int64_t n = static_cast<std::int64_t>(coarse.size());
      const int ocbs = w.outBlocks();
      parallelChunks(0, n * ocbs, [&](std::int64_t begin, std::int64_t end, int) {
        for (std::int64_t i = begin; i < end; ++i) {
          const int ocb = static_cast<int>(i % ocbs);
          convTranspose2x2Rows(w, step.in, out, coarse[i / ocbs], ocb, ocb + 1);
        }
      });
      return 2.0 * 4.0 * w.cin * w.cout * pixels / 4.0;
    }
    case StepKind::kAttention:
      return attentionTokens(attention, step.in, out, tokens);
    case StepKind::kPlugin:
      runPlugin(step, mask, runs);
      return 0.0;
  }
  return 0.0;
}

// The plugin sees the whole level as one kNCHW sample (inactive pixels hold
// their background) and computes the active blocks' pixels; only those are
// copied back.
void InferenceEngine::Impl::runPlugin(const Step& step, const BlockMask& mask,
                                      const std::vector<RowRun>& runs) {
  const PluginStep& plugin = plugins[step.weights];
  const FeatureMap& in = step.in;
  FeatureMap out = step.out;
  const int h = in.height(), w = in.width(), channels = in.channels();
  const int blocks = in.channelBlocks();
  Tensor x = Tensor::empty({1, channels, h, w});
  float* xd = x.data();
  parallelFor(0, h, [&](std::int64_t y) {
    for (int cb = 0; cb < blocks; ++cb) {
      const int lanes = std::min(16, channels - 16 * cb);
      const float* row = in.pixel(cb, static_cast<int>(y), 0);
      for (int xx = 0; xx < w; ++xx)
        for (int l = 0; l < lanes; ++l)
          xd[((16 * cb + l) * static_cast<std::int64_t>(h) + y) * w + xx] = row[16 * xx + l];
    }
  });
  const int b = grid.levelBlockSize(step.level);
  std::vector<std::uint8_t> active(static_cast<std::size_t>(h) * w);
  for (int y = 0; y < h; ++y)
    for (int xx = 0; xx < w; ++xx)
      active[static_cast<std::size_t>(y) * w + xx] = mask.test(xx / b, y / b);
  std::vector<const Tensor*> params;
  for (const Tensor& t : plugin.params) params.push_back(&t);
  Tensor y;
  if (Status s =
          runPluginForward(*plugin.layer, plugin.layer->forward_cpu, x, params, active.data(), &y);
      !s.ok()) {
    recordPluginLayerFailure(s.error());
    y.fill(std::numeric_limits<float>::quiet_NaN());
  }
  const float* yd = y.data();
  parallelFor(0, static_cast<std::int64_t>(runs.size()), [&](std::int64_t i) {
    const RowRun& r = runs[i];
    for (int cb = 0; cb < blocks; ++cb) {
      const int lanes = std::min(16, channels - 16 * cb);
      float* row = out.pixel(cb, r.y, 0);
      for (int xx = r.x0; xx < r.x0 + r.length; ++xx)
        for (int l = 0; l < lanes; ++l)
          row[16 * xx + l] = yd[((16 * cb + l) * static_cast<std::int64_t>(h) + r.y) * w + xx];
    }
  });
}

void InferenceEngine::Impl::fillBlockLabel(int block, std::uint8_t label) {
  const int pw = grid.paddedWidth();
  const int x0 = grid.blockX(block) * 16, y0 = grid.blockY(block) * 16;
  for (int y = y0; y < y0 + 16; ++y)
    std::memset(paddedLabels.data() + static_cast<std::size_t>(y) * pw + x0, label, 16);
}

// Runs head `level` on the undecided blocks and settles the confident,
// uniform ones. Returns the FLOPs spent.
double InferenceEngine::Impl::settle(int level) {
  const Conv2d1x1ArgmaxWeights& head = heads[level];
  const std::vector<RowRun> runs = rowRunsOf(undecided, level);
  const int lw = grid.levelWidth(level);
  parallelFor(0, static_cast<std::int64_t>(runs.size()), [&](std::int64_t i) {
    const RowRun& r = runs[i];
    conv2d1x1ArgmaxRows(head, headInputs[level], r,
                        levelLabels.data() + static_cast<std::size_t>(r.y) * lw,
                        levelMargins.data() + static_cast<std::size_t>(r.y) * lw);
  });
  double pixels = 0;
  for (const RowRun& r : runs) pixels += r.length;
  const int b = grid.levelBlockSize(level);
  const float threshold = static_cast<float>(options.settleMargin);
  for (int index = 0; index < grid.blockCount(); ++index) {
    if (!undecided.test(index)) continue;
    const int x0 = grid.blockX(index) * b, y0 = grid.blockY(index) * b;
    const std::uint8_t label = levelLabels[static_cast<std::size_t>(y0) * lw + x0];
    bool settled = true;
    for (int y = y0; y < y0 + b && settled; ++y)
      for (int x = x0; x < x0 + b; ++x) {
        const std::size_t p = static_cast<std::size_t>(y) * lw + x;
        if (levelLabels[p] != label || levelMargins[p] < threshold) {
          settled = false;
          break;
        }
      }
    if (settled) {
      undecided.set(index, false);
      fillBlockLabel(index, label);
      settledBlocks += 1;
    }
  }
  return 2.0 * head.cin * head.classes * pixels;
}

void InferenceEngine::Impl::runGraph(std::span<const std::int16_t* const> slices,
                                     std::uint8_t* labels, SliceStats* stats, float* logits) {
  const int w = grid.width(), h = grid.height();
  const std::int64_t gh = graphHeight, gw = graphWidth;
  const int channels = static_cast<int>(slices.size());
  Tensor input = Tensor::empty({1, channels, gh, gw});
  input.fill(info.input.apply(-1024.0f));
  for (int c = 0; c < channels; ++c)
    parallelFor(0, h, [&](std::int64_t y) {
      float* row = input.data() + (c * gh + y) * gw;
      for (int x = 0; x < w; ++x) row[x] = info.input.apply(slices[c][y * w + x]);
    });
  const Tensor out = graph->forward(*backend, input);
  const std::int64_t classes = out.c();
  parallelFor(0, h, [&](std::int64_t y) {
    for (int x = 0; x < w; ++x) {
      int best = 0;
      float top = out.data()[y * gw + x];
      for (std::int64_t c = 0; c < classes; ++c) {
        const float v = out.data()[(c * gh + y) * gw + x];
        if (logits) logits[(static_cast<std::size_t>(c) * h + y) * w + x] = v;
        if (v > top) {
          top = v;
          best = static_cast<int>(c);
        }
      }
      labels[static_cast<std::size_t>(y) * w + x] = static_cast<std::uint8_t>(best);
    }
  });
  if (stats) {
    SliceStats s;
    s.levels = 1;
    s.flops = s.denseFlops = graph->forwardFlops(gh, gw);
    s.activeFraction[0] = s.decoderFraction[0] = 1.0;
    *stats = s;
  }
}

void InferenceEngine::run(std::span<const std::int16_t* const> slices, const BlockMask& mask,
                          std::uint8_t* labels, SliceStats* stats, float* logits) {
  Impl& e = *impl_;
  if (e.graph) {
    e.runGraph(slices, labels, stats, logits);
    return;
  }
  e.prepareInput(slices);
  e.active = mask;
  if (mask.activeFraction() > e.options.denseFallbackFraction) e.active.fill(true);
  e.undecided = e.active;
  e.settledBlocks = 0;
  e.decoderSet.assign(e.levels + 1, e.active);
  e.tokens.clear();
  const int lw = e.grid.levelWidth(e.levels);
  for (const RowRun& r : e.rowRunsOf(e.active, e.levels))
    for (int x = r.x0; x < r.x0 + r.length; ++x) e.tokens.push_back(r.y * lw + x);
  std::fill(e.paddedLabels.begin(), e.paddedLabels.end(), 0);

  const bool settling = e.options.settleMargin > 0.0;
  SliceStats s;
  s.levels = e.levels;
  for (const Step& step : e.steps) {
    if (step.decoder && step.kind == StepKind::kUp && settling && step.level < e.levels - 1) {
      // Compute the undecided blocks and a one-block ring of halo around them,
      // within what the coarser decoder level computed.
      BlockMask set = e.undecided;
      set.dilate(1);
      set &= e.decoderSet[step.level + 1];
      e.decoderSet[step.level] = set;
    }
    s.flops += e.execute(step, step.decoder ? e.decoderSet[step.level] : e.active);
    if (settling && step.headAfter > 0 && step.headAfter <= e.options.settleFromLevel &&
        e.heads[step.headAfter].cin > 0 && e.undecided.any())
      s.flops += e.settle(step.headAfter);
  }
  // Output head fused with argmax on the undecided blocks; the rest is
  // settled or background.
  const std::vector<RowRun> runs = e.rowRunsOf(e.undecided, 0);
  const int pw = e.grid.paddedWidth();
  std::vector<float> paddedLogits;
  if (logits) paddedLogits.assign(static_cast<std::size_t>(pw) * e.grid.paddedHeight() * 16, NAN);
  parallelFor(0, static_cast<std::int64_t>(runs.size()), [&](std::int64_t i) {
    const RowRun& r = runs[i];
    conv2d1x1ArgmaxRows(
        e.heads[0], e.headInputs[0], r, e.paddedLabels.data() + static_cast<std::size_t>(r.y) * pw,
        nullptr, logits ? paddedLogits.data() + static_cast<std::size_t>(r.y) * pw * 16 : nullptr);
  });
  double pixels = 0;
  for (const RowRun& r : runs) pixels += r.length;
  s.flops += 2.0 * e.heads[0].cin * e.heads[0].classes * pixels;
  for (int l = 0; l <= e.levels && l < kMaxLevels; ++l) {
    s.activeFraction[l] = e.active.activeFraction();
    s.decoderFraction[l] = e.decoderSet[l].activeFraction();
  }
  s.settledFraction = e.settledBlocks / std::max(1, e.grid.blockCount());
  s.denseFlops = e.info.architecture.forwardFlops(e.grid.paddedHeight(), e.grid.paddedWidth(),
                                                  /*withDeepSupervision=*/false);
  const int w = e.grid.width(), h = e.grid.height();
  for (int y = 0; y < h; ++y)
    std::memcpy(labels + static_cast<std::size_t>(y) * w,
                e.paddedLabels.data() + static_cast<std::size_t>(y) * pw, w);
  if (logits) {
    const int classes = e.heads[0].classes;
    for (int c = 0; c < classes; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          logits[(static_cast<std::size_t>(c) * h + y) * w + x] =
              paddedLogits[(static_cast<std::size_t>(y) * pw + x) * 16 + c];
  }
  if (stats) *stats = s;
}

}  // namespace tessera::models::infer
