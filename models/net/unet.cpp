#include "models/net/unet.h"

#include <cassert>
#include <cmath>
#include <functional>
#include <random>

#include "core/memory.h"
#include "models/net/graph.h"

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
    return Status(StatusCode::kInvalidArgument,
                  "attention heads must divide the bottleneck width");
  return Status();
}

double UNetConfig::forwardFlops(std::int64_t height, std::int64_t width,
                                bool withDeepSupervision) const {
  double flops = 0;
  auto conv = [&](double cin, double cout, double k, double pixels) {
    flops += 2.0 * cin * cout * k * k * pixels;
  };
  double pixels = static_cast<double>(height) * width;
  double cin = inputChannels;
  for (int l = 0; l < levels; ++l) {
    conv(cin, channels(l), 3, pixels);
    conv(channels(l), channels(l), 3, pixels);
    cin = channels(l);
    pixels /= 4;
  }
  conv(cin, channels(levels), 3, pixels);
  conv(channels(levels), channels(levels), 3, pixels);
  if (attentionHeads > 0) {
    const double c = channels(levels);
    conv(c, 4 * c, 1, pixels);                // q, k, v, o projections
    flops += 2.0 * 2.0 * pixels * pixels * c;  // scores and weighted sum
  }
  for (int l = levels - 1; l >= 0; --l) {
    conv(channels(l + 1), channels(l), 2, pixels);  // transposed conv: 4 taps per input pixel
    pixels *= 4;
    conv(2 * channels(l), channels(l), 3, pixels);
    conv(channels(l), channels(l), 3, pixels);
    if (l == 0 || (deepSupervision && withDeepSupervision)) conv(channels(l), classes, 1, pixels);
  }
  return flops;
}

const char* checkpointingName(Checkpointing mode) {
  switch (mode) {
    case Checkpointing::kNone: return "none";
    case Checkpointing::kStage: return "stage";
    case Checkpointing::kAggressive: return "aggressive";
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
  auto convBn = [&](const std::string& prefix, int index, std::int64_t cin, std::int64_t cout) {
    const std::string i = std::to_string(index);
    params_.add(prefix + ".conv" + i + ".weight", {cout, cin, 3, 3});
    params_.add(prefix + ".bn" + i + ".weight", {1, cout, 1, 1});
    params_.add(prefix + ".bn" + i + ".bias", {1, cout, 1, 1});
    params_.add(prefix + ".bn" + i + ".running_mean", {1, cout, 1, 1}, false);
    params_.add(prefix + ".bn" + i + ".running_var", {1, cout, 1, 1}, false);
  };
  std::int64_t cin = config_.inputChannels;
  for (int l = 0; l < config_.levels; ++l) {
    const std::string p = "enc" + std::to_string(l);
    convBn(p, 1, cin, config_.channels(l));
    convBn(p, 2, config_.channels(l), config_.channels(l));
    cin = config_.channels(l);
  }
  const std::int64_t cb = config_.channels(config_.levels);
  convBn("bott", 1, cin, cb);
  convBn("bott", 2, cb, cb);
  if (config_.attentionHeads > 0) {
    for (const char* m : {"q", "k", "v", "o"}) {
      params_.add(std::string("att.") + m + ".weight", {cb, cb, 1, 1});
      params_.add(std::string("att.") + m + ".bias", {1, cb, 1, 1});
    }
  }
  for (int l = config_.levels - 1; l >= 0; --l) {
    const std::string L = std::to_string(l);
    params_.add("up" + L + ".weight", {config_.channels(l + 1), config_.channels(l), 2, 2});
    params_.add("up" + L + ".bias", {1, config_.channels(l), 1, 1});
    convBn("dec" + L, 1, 2 * config_.channels(l), config_.channels(l));
    convBn("dec" + L, 2, config_.channels(l), config_.channels(l));
    if (l == 0 || config_.deepSupervision) {
      params_.add("head" + L + ".weight", {config_.classes, config_.channels(l), 1, 1});
      params_.add("head" + L + ".bias", {1, config_.classes, 1, 1});
    }
  }
}

void UNet::initialize(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Box–Muller on raw 64-bit draws: identical on every standard library.
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0; };
  auto normal = [&] {
    const double u = uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  };
  for (auto& p : params_.all()) {
    Tensor& t = p->value;
    const std::string& name = p->name;
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
      const double fanIn = transposed ? static_cast<double>(t.n())
                                      : static_cast<double>(t.c() * t.h() * t.w());
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
  auto convBnRelu = [&](int x, const std::string& prefix, int index, int stage, bool boundary) {
    const std::string i = std::to_string(index);
    const int c = g.conv(x, P(prefix + ".conv" + i + ".weight"), nullptr, 1, 1, stage);
    const int b = g.batchNorm(c, P(prefix + ".bn" + i + ".weight"), P(prefix + ".bn" + i + ".bias"),
                              P(prefix + ".bn" + i + ".running_mean"),
                              P(prefix + ".bn" + i + ".running_var"), config.bnEps,
                              config.bnMomentum, stage);
    return g.relu(b, stage, boundary);
  };
  std::vector<int> skips(config.levels);
  int x = input;
  int stage = 0;
  for (int l = 0; l < config.levels; ++l, ++stage) {
    const std::string p = "enc" + std::to_string(l);
    x = convBnRelu(x, p, 1, stage, false);
    x = convBnRelu(x, p, 2, stage, true);
    skips[l] = x;
    x = g.maxPool(x, stage + 1);
  }
  x = convBnRelu(x, "bott", 1, stage, false);
  x = convBnRelu(x, "bott", 2, stage, config.attentionHeads == 0);
  if (config.attentionHeads > 0) {
    AttentionWeights w{&P("att.q.weight")->value, &P("att.q.bias")->value,
                       &P("att.k.weight")->value, &P("att.k.bias")->value,
                       &P("att.v.weight")->value, &P("att.v.bias")->value,
                       &P("att.o.weight")->value, &P("att.o.bias")->value,
                       config.attentionHeads};
    std::vector<Parameter*> ps{P("att.q.weight"), P("att.q.bias"), P("att.k.weight"),
                               P("att.k.bias"), P("att.v.weight"), P("att.v.bias"),
                               P("att.o.weight"), P("att.o.bias")};
    x = g.attention(x, w, ps, tokenMask, stage, true);
  }
  ++stage;
  std::vector<int> heads(config.levels, -1);
  for (int l = config.levels - 1; l >= 0; --l, ++stage) {
    const std::string L = std::to_string(l);
    const int u = g.upConv(x, P("up" + L + ".weight"), P("up" + L + ".bias"), stage);
    const int cat = g.concat(u, skips[l], stage);
    x = convBnRelu(cat, "dec" + L, 1, stage, false);
    x = convBnRelu(x, "dec" + L, 2, stage, true);
    if (l == 0 || (allHeads && config.deepSupervision))
      heads[l] = g.conv(x, P("head" + L + ".weight"), P("head" + L + ".bias"), 1, 0, stage);
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
      if (heads[l] >= 0 && headWeight(l) != 0.0) graph.markOutput(heads[l]);
    graph.forward();
    result.headLosses.assign(config_.levels, 0.0);
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
