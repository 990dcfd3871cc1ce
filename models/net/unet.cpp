#include "models/net/unet.h"

#include <cassert>
#include <cmath>
#include <functional>
#include <random>

#include "core/memory.h"
#include "models/backend/plugin_layer.h"
#include "models/net/graph.h"
#include "models/net/unet_layers.h"

namespace tessera::models {

Status UNetConfig::validate() const {
  if (inputChannels < 1 || inputChannels > 64)
    return Status(StatusCode::kInvalidArgument, "input channels must be 1..64");
  if (classes < 2 || classes > 255)
    return Status(StatusCode::kInvalidArgument, "a model needs 2..255 output classes");
  if (baseWidth < 1 || baseWidth > 256)
    return Status(StatusCode::kInvalidArgument, "base width must be 1..256");
  if (levels < 1 || levels > 6) return Status(StatusCode::kInvalidArgument, "levels must be 1..6");
  if (attentionHeads < 0 || (attentionHeads > 0 && channels(levels) % attentionHeads != 0))
    return Status(StatusCode::kInvalidArgument, "attention heads must divide the bottleneck width");
  for (std::size_t i = 0; i < pluginLayers.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (pluginLayers[i] == pluginLayers[j])
        return Status(StatusCode::kInvalidArgument,
                      "plugin layer '" + pluginLayers[i].name + "' is placed twice in one place");
  return Status();
}

Status UNetConfig::checkPluginLayers() const {
  std::string missing;
  for (const PluginLayerUse& use : pluginLayers)
    if (!findPluginLayer(use.name)) missing += (missing.empty() ? "" : ", ") + use.name;
  if (!missing.empty()) {
    std::string loaded;
    for (const PluginLayer& l : registeredPluginLayers())
      loaded += (loaded.empty() ? "" : ", ") + std::string(l.layer->name);
    return Status(StatusCode::kUnsupported,
                  "the model needs plugin layers that no loaded plugin provides: " + missing +
                      " (load their plugins with --plugins DIR or TESSERA_PLUGIN_PATH; " +
                      (loaded.empty() ? std::string("no plugin layer is loaded") + ")"
                                      : "loaded: " + loaded + ")"));
  }
  for (int level = 0; level <= levels; ++level)
    for (const PluginLayerUse& use : pluginLayers) {
      if (use.place == LayerPlace::kBottleneck && level != levels) continue;
      if (Result<std::vector<tessera_layer_parameter>> p =
              pluginLayerParameters(*findPluginLayer(use.name), channels(level));
          !p.ok())
        return p.status();
    }
  return Status();
}

Result<std::vector<PluginLayerUse>> parsePluginLayers(const std::string& text) {
  std::vector<PluginLayerUse> uses;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    const std::size_t at = item.find('@');
    PluginLayerUse use;
    use.name = item.substr(0, at);
    const std::string place = at == std::string::npos ? "" : item.substr(at + 1);
    if (place == "stages") {
      use.place = LayerPlace::kStages;
    } else if (place == "bottleneck") {
      use.place = LayerPlace::kBottleneck;
    } else {
      return Status(StatusCode::kInvalidArgument,
                    "plugin layer '" + item + "': write NAME@stages or NAME@bottleneck");
    }
    bool valid = !use.name.empty();
    for (char c : use.name)
      valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (!valid)
      return Status(StatusCode::kInvalidArgument,
                    "plugin layer '" + item + "': a layer name is [a-z0-9_]+");
    uses.push_back(use);
  }
  return uses;
}

std::string pluginLayersText(const std::vector<PluginLayerUse>& uses) {
  std::string text;
  for (const PluginLayerUse& use : uses)
    text += (text.empty() ? "" : ",") + use.name +
            (use.place == LayerPlace::kStages ? "@stages" : "@bottleneck");
  return text;
}

double UNetConfig::forwardFlops(std::int64_t height, std::int64_t width,
                                bool withDeepSupervision) const {
  double flops = 0;
  auto conv = [&](double cin, double cout, double k, double pixels) {
    flops += 2.0 * cin * cout * k * k * pixels;
  };
  // H·W / 4^level, exact in double.
  auto pixels = [&](int level) {
    return std::ldexp(static_cast<double>(height) * width, -2 * level);
  };
  for (const Layer& layer : unetLayers(*this)) {
    const double cin = static_cast<double>(layer.inChannels);
    const double cout = static_cast<double>(layer.outChannels);
    switch (layer.kind) {
      case LayerKind::kConvBnRelu:
        conv(cin, cout, 3, pixels(layer.level));
        break;
      case LayerKind::kAttention: {
        const double p = pixels(layer.level);
        conv(cin, 4 * cin, 1, p);          // q, k, v, o projections
        flops += 2.0 * 2.0 * p * p * cin;  // scores and weighted sum
        break;
      }
      // Transposed conv: 4 taps per input pixel.
      case LayerKind::kConvTranspose:
        conv(cin, cout, 2, pixels(layer.level + 1));
        break;
      case LayerKind::kHead:
        if (layer.level == 0 || withDeepSupervision) conv(cin, cout, 1, pixels(layer.level));
        break;
      case LayerKind::kMaxPool:
      case LayerKind::kConcat:
      case LayerKind::kPlugin:
        break;
    }
  }
  return flops;
}

const char* checkpointingName(Checkpointing mode) {
  switch (mode) {
    case Checkpointing::kNone:
      return "none";
    case Checkpointing::kStage:
      return "stage";
    case Checkpointing::kAggressive:
      return "aggressive";
  }
  return "none";
}

bool parseCheckpointing(const std::string& text, Checkpointing* mode) {
  for (Checkpointing m : {Checkpointing::kNone, Checkpointing::kStage, Checkpointing::kAggressive})
    if (text == checkpointingName(m)) {
      *mode = m;
      return true;
    }
  return false;
}

UNet::UNet(UNetConfig config) : config_(config) {
  for (const Layer& layer : unetLayers(config_))
    for (const LayerParameter& p : layer.parameters) params_.add(p.name, p.shape, p.trainable);
}

namespace {
const LayerParameter* declaredParameter(const std::vector<Layer>& layers, const std::string& name) {
  for (const Layer& layer : layers)
    for (const LayerParameter& p : layer.parameters)
      if (p.name == name) return &p;
  return nullptr;
}
}  // namespace

void UNet::initialize(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Box–Muller on raw 64-bit draws: identical on every standard library.
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0; };
  auto normal = [&] {
    const double u = uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  };
  const std::vector<Layer> layers = unetLayers(config_);
  for (auto& p : params_.all()) {
    Tensor& t = p->value;
    const std::string& name = p->name;
    const LayerParameter* declared = declaredParameter(layers, name);
    if (declared && declared->init != LayerParameter::Init::kByName) {
      if (declared->init == LayerParameter::Init::kNormal) {
        for (std::int64_t i = 0; i < t.shape().count(); ++i)
          t.data()[i] = static_cast<float>(normal() * declared->std);
      } else {
        t.fill(declared->init == LayerParameter::Init::kOnes ? 1.0f : 0.0f);
      }
      ++p->version;
      continue;
    }
    auto endsWith = [&](const char* suffix) {
      const std::string s(suffix);
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    const bool isBn = name.find(".bn") != std::string::npos;
    if (isBn && (endsWith(".weight") || endsWith(".running_var"))) {
      t.fill(1.0f);
    } else if (endsWith(".bias") || endsWith(".running_mean")) {
      t.setZero();
    } else {
      // He-normal with fan-in; the transposed conv's fan-in is Cin of its input.
      const bool transposed = name.rfind("up", 0) == 0;
      const double fanIn =
          transposed ? static_cast<double>(t.n()) : static_cast<double>(t.c() * t.h() * t.w());
      double std = std::sqrt(2.0 / fanIn);
      if (name.rfind("att.", 0) == 0) std = std::sqrt(1.0 / fanIn);
      if (name.rfind("att.o", 0) == 0) std *= 0.1;  // attention starts near identity
      for (std::int64_t i = 0; i < t.shape().count(); ++i)
        t.data()[i] = static_cast<float>(normal() * std);
    }
    ++p->version;
  }
}

namespace {

// Builds the network graph for one batch on top of `graph`; returns the head
// node per level (−1 where absent).
std::vector<int> buildNetwork(Graph& g, const UNetConfig& config, ParameterSet& params, int input,
                              const std::vector<std::uint8_t>* tokenMask, bool allHeads) {
  auto P = [&](const std::string& name) {
    Parameter* p = params.find(name);
    assert(p && "missing parameter");
    return p;
  };
  const std::vector<Layer> layers = unetLayers(config);
  std::vector<int> nodes(layers.size());
  std::vector<int> heads(config.levels, -1);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& layer = layers[i];
    const int x = layer.inputs[0] < 0 ? input : nodes[layer.inputs[0]];
    std::vector<Parameter*> ps;
    for (const LayerParameter& p : layer.parameters) ps.push_back(P(p.name));
    const int stage = layer.stage;
    switch (layer.kind) {
      case LayerKind::kConvBnRelu: {
        const int c = g.conv(x, ps[0], nullptr, 1, 1, stage);
        const int b =
            g.batchNorm(c, ps[1], ps[2], ps[3], ps[4], config.bnEps, config.bnMomentum, stage);
        nodes[i] = g.relu(b, stage, layer.stageOutput);
        break;
      }
      case LayerKind::kMaxPool:
        nodes[i] = g.maxPool(x, stage);
        break;
      case LayerKind::kAttention: {
        AttentionWeights w{&ps[0]->value, &ps[1]->value, &ps[2]->value,
                           &ps[3]->value, &ps[4]->value, &ps[5]->value,
                           &ps[6]->value, &ps[7]->value, config.attentionHeads};
        nodes[i] = g.attention(x, w, ps, tokenMask, stage, layer.stageOutput);
        break;
      }
      case LayerKind::kConvTranspose:
        nodes[i] = g.upConv(x, ps[0], ps[1], stage);
        break;
      case LayerKind::kConcat:
        nodes[i] = g.concat(x, nodes[layer.inputs[1]], stage);
        break;
      case LayerKind::kHead:
        if (layer.level == 0 || allHeads)
          nodes[i] = heads[layer.level] = g.conv(x, ps[0], ps[1], 1, 0, stage);
        break;
      case LayerKind::kPlugin:
        assert(layer.plugin && "plugin layers are checked before a network is built");
        nodes[i] = g.plugin(x, *layer.plugin, ps, stage, layer.stageOutput);
        break;
    }
  }
  return heads;
}

Tensor downsampleLabels(const Tensor& labels, int factor) {
  if (factor == 1) return labels;
  Tensor out = Tensor::zeros({labels.n(), 1, labels.h() / factor, labels.w() / factor});
  std::vector<int> votes(256);
  for (std::int64_t n = 0; n < labels.n(); ++n)
    for (std::int64_t oy = 0; oy < out.h(); ++oy)
      for (std::int64_t ox = 0; ox < out.w(); ++ox) {
        std::fill(votes.begin(), votes.end(), 0);
        int best = 0;
        for (int dy = 0; dy < factor; ++dy)
          for (int dx = 0; dx < factor; ++dx) {
            const int v = static_cast<int>(labels.at(n, 0, oy * factor + dy, ox * factor + dx));
            ++votes[v];
          }
        for (int v = 1; v < 256; ++v)
          if (votes[v] > votes[best]) best = v;
        out.at(n, 0, oy, ox) = static_cast<float>(best);
      }
  return out;
}

}  // namespace

TrainStepResult UNet::trainStep(Backend& backend, const Tensor& input, const Tensor& labels,
                                const TrainStepOptions& options) {
  const std::int64_t baseline = memoryStats().currentBytes;
  resetPeakMemory();
  TrainStepResult result;
  {
    Graph graph(backend, GraphMode::kTraining, options.checkpointing, options.updateRunningStats,
                options.halfStorage);
    const int in = graph.input(input);
    const std::vector<int> heads = buildNetwork(graph, config_, params_, in, nullptr, true);
    auto headWeight = [&](int l) {
      return l < static_cast<int>(options.headWeights.size()) ? options.headWeights[l] : 0.0;
    };
    for (int l = 0; l < config_.levels; ++l)
      if (heads[l] >= 0 && (headWeight(l) != 0.0 || (l == 0 && options.teacherLogits)))
        graph.markOutput(heads[l]);
    graph.forward();
    result.headLosses.assign(config_.levels, 0.0);
    if (options.teacherLogits && heads[0] >= 0) {
      result.distillationLoss = graph.addDistillationLoss(
          heads[0], *options.teacherLogits, options.temperature, options.distillWeight);
      result.loss += options.distillWeight * result.distillationLoss;
    }
    for (int l = 0; l < config_.levels; ++l) {
      const double weight = headWeight(l);
      if (heads[l] < 0 || weight == 0.0) continue;
      const Tensor target = downsampleLabels(labels, 1 << l);
      const double loss = graph.addLoss(heads[l], target, options.diceWeight, weight);
      result.headLosses[l] = loss;
      result.loss += weight * loss;
    }
    graph.backward();
  }
  result.peakBytes = memoryStats().peakBytes - baseline;
  return result;
}

Tensor UNet::forward(Backend& backend, const Tensor& input,
                     const std::vector<std::uint8_t>* tokenMask) {
  Graph graph(backend, GraphMode::kInference, Checkpointing::kNone, false);
  const int in = graph.input(input);
  const std::vector<int> heads = buildNetwork(graph, config_, params_, in, tokenMask, false);
  graph.markOutput(heads[0]);
  graph.forward();
  return backend.toNCHW(graph.value(heads[0]));
}

}  // namespace tessera::models
