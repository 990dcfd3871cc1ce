#include "models/graph/unet_match.h"

#include <cmath>
#include <set>

#include "models/net/unet_layers.h"

namespace tessera::models {
namespace {

Error notSparse(const std::string& why) {
  return Error{StatusCode::kUnsupported, why};
}

// The first operator that rules block-sparse inference out, with the reason.
Status checkOperators(const GraphNet& net) {
  for (const GraphNode& n : net.nodes) {
    const std::string at = " (node " + n.name + ")";
    switch (n.op) {
      case GraphOp::kInstanceNorm:
        return notSparse("instance normalisation" + at +
                         " takes its statistics over the whole slice, so a block cannot be "
                         "computed from its neighbourhood alone");
      case GraphOp::kResize:
        return notSparse("up-sampling by interpolation" + at +
                         "; the sparse engine up-samples by 2×2 transposed convolutions");
      case GraphOp::kLeakyRelu:
      case GraphOp::kPrelu:
        return notSparse(std::string(graphOpName(n.op)) + " activations" + at +
                         "; the sparse kernels fuse ReLU only");
      case GraphOp::kAdd:
        return notSparse("residual additions" + at + " are not part of Tessera's U-Net");
      case GraphOp::kConv:
        if (n.stride != 1)
          return notSparse("down-sampling by strided convolution" + at +
                           "; the sparse engine down-samples by 2×2 max pooling");
        break;
      default:
        break;
    }
  }
  return Status();
}

class Matcher {
 public:
  explicit Matcher(const GraphNet& net) : net_(net), consumers_(net.valueCount) {
    for (std::size_t i = 0; i < net.nodes.size(); ++i)
      for (int v : net.nodes[i].inputs) consumers_[v].push_back(static_cast<int>(i));
  }

  Result<UNetMatch> run() {
    TESSERA_RETURN_IF_ERROR(checkOperators(net_));
    UNetMatch m;
    UNetConfig& c = m.config;
    c.inputChannels = net_.inputChannels;
    c.classes = net_.classes;
    c.attentionHeads = 0;
    c.deepSupervision = false;
    c.levels = 0;
    for (const GraphNode& n : net_.nodes) c.levels += n.op == GraphOp::kMaxPool;
    const int first = consumerOf(0, GraphOp::kConv);
    if (first < 0) return notSparse("the input does not go into a convolution");
    c.baseWidth = static_cast<int>(net_.nodes[first].weights[0].n());
    for (const GraphNode& n : net_.nodes)
      if (n.op == GraphOp::kBatchNorm) c.bnEps = n.eps;
    if (c.levels < 1 || c.levels > 4)
      return notSparse("the network pools " + std::to_string(c.levels) +
                       " times; Tessera's U-Net has 1 to 4 levels on 16-pixel blocks");
    if (Status s = c.validate(); !s.ok()) return notSparse(s.error().message);
    if (c.baseWidth % 16 != 0)
      return notSparse("the first stage has " + std::to_string(c.baseWidth) +
                       " channels; the sparse kernels need a multiple of 16");
    if (c.classes > 16) return notSparse("the sparse kernels support up to 16 classes");

    const std::vector<Layer> layers = unetLayers(c);
    std::vector<int> out(layers.size(), -1);
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const Layer& L = layers[i];
      const int in = L.inputs[0] < 0 ? 0 : out[L.inputs[0]];
      auto mismatch = [&](const std::string& what) {
        return notSparse("the graph is not laid out as Tessera's U-Net: at " + L.name + ", " +
                         what);
      };
      switch (L.kind) {
        case LayerKind::kConvBnRelu: {
          const int conv = consumerOf(in, GraphOp::kConv);
          if (conv < 0) return mismatch("no convolution follows");
          const GraphNode& cn = net_.nodes[conv];
          const Shape w = cn.weights[0].shape();
          if (w.h != 3 || cn.pad != 1 || w.n != L.outChannels || w.c != L.inChannels)
            return mismatch("expected a 3×3 convolution " + std::to_string(L.inChannels) + " → " +
                            std::to_string(L.outChannels) + " with padding 1");
          use(conv);
          int v = cn.output;
          const GraphNode* bn = nullptr;
          if (const int b = soleConsumer(v, GraphOp::kBatchNorm); b >= 0) {
            bn = &net_.nodes[b];
            if (bn->eps != c.bnEps) return mismatch("batch norms use different epsilons");
            use(b);
            v = bn->output;
          }
          const int relu = soleConsumer(v, GraphOp::kRelu);
          if (relu < 0) return mismatch("expected (batch norm and) ReLU after the convolution");
          use(relu);
          out[i] = net_.nodes[relu].output;
          mapConvBn(L, cn, bn, c.bnEps, &m.parameters);
          break;
        }
        case LayerKind::kPlugin:  // an imported graph's config names no plugin layers
          return mismatch("plugin layers are not matched in imported graphs");
        case LayerKind::kMaxPool: {
          const int pool = consumerOf(in, GraphOp::kMaxPool);
          if (pool < 0) return mismatch("expected 2×2 max pooling");
          use(pool);
          out[i] = net_.nodes[pool].output;
          break;
        }
        case LayerKind::kConvTranspose: {
          const int up = soleConsumer(in, GraphOp::kConvTranspose);
          if (up < 0) return mismatch("expected a transposed convolution");
          const GraphNode& u = net_.nodes[up];
          if (u.transpose.kernel != 2 || u.transpose.stride != 2 || u.transpose.pad != 0 ||
              u.transpose.outputPad != 0 || u.weights[0].c() != L.outChannels)
            return mismatch("expected a 2×2 transposed convolution with stride 2 to " +
                            std::to_string(L.outChannels) + " channels");
          use(up);
          out[i] = u.output;
          m.parameters[L.parameters[0].name] = u.weights[0];
          m.parameters[L.parameters[1].name] =
              u.weights.size() > 1 ? u.weights[1] : Tensor::zeros({1, L.outChannels, 1, 1});
          break;
        }
        case LayerKind::kConcat: {
          const int cat = consumerOf(in, GraphOp::kConcat);
          const int skip = out[L.inputs[1]];
          if (cat < 0 || net_.nodes[cat].inputs != std::vector<int>{in, skip})
            return mismatch("expected the concatenation [up-sampled, skip]");
          use(cat);
          out[i] = net_.nodes[cat].output;
          break;
        }
        case LayerKind::kHead: {
          const int head = soleConsumer(in, GraphOp::kConv);
          if (head < 0) return mismatch("expected the 1×1 output convolution");
          const GraphNode& h = net_.nodes[head];
          if (h.weights[0].h() != 1 || h.stride != 1 || h.pad != 0)
            return mismatch("expected a 1×1 convolution");
          use(head);
          out[i] = h.output;
          m.parameters[L.parameters[0].name] = h.weights[0];
          m.parameters[L.parameters[1].name] =
              h.weights.size() > 1 ? h.weights[1] : Tensor::zeros({1, c.classes, 1, 1});
          break;
        }
        case LayerKind::kAttention:
          return mismatch("attention is not imported");
      }
    }
    if (out.back() != net_.output)
      return notSparse("the graph is not laid out as Tessera's U-Net: something follows the head");
    if (used_.size() != net_.nodes.size())
      return notSparse("the graph is not laid out as Tessera's U-Net: it has nodes beyond it");
    return m;
  }

 private:
  // The unused node of kind `op` reading value v, or −1.
  int consumerOf(int v, GraphOp op) const {
    for (int i : consumers_[v])
      if (net_.nodes[i].op == op && !used_.count(i)) return i;
    return -1;
  }
  int soleConsumer(int v, GraphOp op) const {
    return consumers_[v].size() == 1 ? consumerOf(v, op) : -1;
  }
  void use(int node) { used_.insert(node); }

  static void mapConvBn(const Layer& L, const GraphNode& conv, const GraphNode* bn, float eps,
                        std::map<std::string, Tensor>* p) {
    const std::int64_t c = L.outChannels;
    Tensor gamma = Tensor::empty({1, c, 1, 1}), beta = Tensor::empty({1, c, 1, 1});
    Tensor mean = Tensor::empty({1, c, 1, 1}), var = Tensor::empty({1, c, 1, 1});
    const float* bias = conv.weights.size() > 1 ? conv.weights[1].data() : nullptr;
    for (std::int64_t k = 0; k < c; ++k) {
      const float b = bias ? bias[k] : 0.0f;
      if (bn) {
        gamma.data()[k] = bn->weights[0].data()[k];
        beta.data()[k] = bn->weights[1].data()[k];
        // The batch norm sees conv + bias: the bias moves into the mean.
        mean.data()[k] = bn->batchNorm.mean[k] - b;
        const double invStd = bn->batchNorm.invStd[k];
        var.data()[k] = static_cast<float>(1.0 / (invStd * invStd) - eps);
      } else {
        // γ / sqrt(var + eps) is exactly 1 in float for var = 1.
        gamma.data()[k] = std::sqrt(1.0f + eps);
        beta.data()[k] = b;
        mean.data()[k] = 0.0f;
        var.data()[k] = 1.0f;
      }
    }
    (*p)[L.parameters[0].name] = conv.weights[0];
    (*p)[L.parameters[1].name] = gamma;
    (*p)[L.parameters[2].name] = beta;
    (*p)[L.parameters[3].name] = mean;
    (*p)[L.parameters[4].name] = var;
  }

  const GraphNet& net_;
  std::vector<std::vector<int>> consumers_;
  std::set<int> used_;
};

}  // namespace

Result<UNetMatch> matchTesseraUNet(const GraphNet& net) {
  return Matcher(net).run();
}

}  // namespace tessera::models
