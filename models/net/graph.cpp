#include "models/net/graph.h"

#include <cassert>
#include <cmath>
#include <cstring>

#include "core/memory.h"
#include "core/parallel.h"
#include "models/net/unet.h"

namespace tessera::models {

namespace {
enum class Op { kInput, kConv, kBatchNorm, kRelu, kMaxPool, kUpConv, kConcat, kAttention, kPlugin };

// A plugin layer's cost is unknown: it is treated like a convolution (kept
// by aggressive checkpointing, not recomputed twice).
bool isExpensive(Op op) {
  return op == Op::kInput || op == Op::kConv || op == Op::kUpConv || op == Op::kAttention ||
         op == Op::kPlugin;
}
bool isComputeBound(Op op) {
  return op == Op::kConv || op == Op::kUpConv || op == Op::kAttention || op == Op::kPlugin;
}
// Whether the op's backward reads its input values / its own output value.
bool backwardReadsInputs(Op op) {
  return op == Op::kConv || op == Op::kBatchNorm || op == Op::kMaxPool || op == Op::kUpConv ||
         op == Op::kAttention || op == Op::kPlugin;
}
bool backwardReadsOwnValue(Op op) {
  return op == Op::kRelu;
}

void addInto(Tensor& dst, const Tensor& src) {
  assert(dst.storageCount() == src.storageCount());
  float* d = dst.data();
  const float* s = src.data();
  parallelChunks(0, dst.storageCount(), [&](std::int64_t b, std::int64_t e, int) {
    for (std::int64_t i = b; i < e; ++i) d[i] += s[i];
  });
}

void scaleInPlace(Tensor& t, float factor) {
  float* d = t.data();
  parallelChunks(0, t.storageCount(), [&](std::int64_t b, std::int64_t e, int) {
    for (std::int64_t i = b; i < e; ++i) d[i] *= factor;
  });
}

std::uint16_t toBf16(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const std::uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);  // round to nearest even
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

float fromBf16(std::uint16_t h) {
  const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

struct Graph::Node {
  Op op = Op::kInput;
  std::vector<int> inputs;
  int stage = 0;
  bool boundary = false;
  bool output = false;
  Parameter* w = nullptr;
  Parameter* b = nullptr;
  int stride = 1, pad = 0;
  Parameter *gamma = nullptr, *beta = nullptr, *runningMean = nullptr, *runningVar = nullptr;
  float eps = 1e-5f, momentum = 0.1f;
  BatchNormState state;
  bool stateValid = false;
  AttentionWeights att{};
  std::vector<Parameter*> attParams;  // attention; plugin layers' parameters too
  const tessera_layer* plugin = nullptr;
  const std::vector<std::uint8_t>* mask = nullptr;
  std::int64_t channelsA = 0;  // concat: channels of the first input

  Tensor value;
  Tensor source;  // input only: kNCHW data, converted to the backend's layout on demand
  std::vector<std::uint16_t, TrackedAllocator<std::uint16_t>> packed;  // bfloat16 copy
  Shape packedShape;
  Layout packedLayout = Layout::kNCHW;
  Tensor grad;
  int remaining = 0;  // consumers still to run in forward
  bool neededByBackward = false;
  bool needsGrad = true;  // false for the input and nodes depending only on it... (input only)
};

Graph::Graph(Backend& backend, GraphMode mode, Checkpointing checkpointing, bool updateRunningStats,
             bool halfStorage)
    : backend_(backend),
      mode_(mode),
      checkpointing_(checkpointing),
      updateRunningStats_(updateRunningStats),
      halfStorage_(halfStorage) {}

Graph::~Graph() = default;

int Graph::add(Node node) {
  nodes_.push_back(std::move(node));
  return static_cast<int>(nodes_.size()) - 1;
}

int Graph::input(Tensor value) {
  Node n;
  n.op = Op::kInput;
  if (value.layout() == backend_.layout()) {
    n.value = std::move(value);
  } else {
    n.source = std::move(value);
  }
  n.needsGrad = false;
  return add(std::move(n));
}

int Graph::conv(int x, Parameter* w, Parameter* bias, int stride, int pad, int stage) {
  Node n;
  n.op = Op::kConv;
  n.inputs = {x};
  n.w = w;
  n.b = bias;
  n.stride = stride;
  n.pad = pad;
  n.stage = stage;
  return add(std::move(n));
}

int Graph::batchNorm(int x, Parameter* gamma, Parameter* beta, Parameter* runningMean,
                     Parameter* runningVar, float eps, float momentum, int stage) {
  Node n;
  n.op = Op::kBatchNorm;
  n.inputs = {x};
  n.gamma = gamma;
  n.beta = beta;
  n.runningMean = runningMean;
  n.runningVar = runningVar;
  n.eps = eps;
  n.momentum = momentum;
  n.stage = stage;
  return add(std::move(n));
}

int Graph::relu(int x, int stage, bool boundary) {
  Node n;
  n.op = Op::kRelu;
  n.inputs = {x};
  n.stage = stage;
  n.boundary = boundary;
  return add(std::move(n));
}

int Graph::maxPool(int x, int stage) {
  Node n;
  n.op = Op::kMaxPool;
  n.inputs = {x};
  n.stage = stage;
  return add(std::move(n));
}

int Graph::upConv(int x, Parameter* w, Parameter* bias, int stage) {
  Node n;
  n.op = Op::kUpConv;
  n.inputs = {x};
  n.w = w;
  n.b = bias;
  n.stage = stage;
  return add(std::move(n));
}

int Graph::concat(int a, int b, int stage) {
  Node n;
  n.op = Op::kConcat;
  n.inputs = {a, b};
  n.stage = stage;
  return add(std::move(n));
}

int Graph::attention(int x, const AttentionWeights& weights, std::vector<Parameter*> params,
                     const std::vector<std::uint8_t>* tokenMask, int stage, bool boundary) {
  Node n;
  n.op = Op::kAttention;
  n.inputs = {x};
  n.att = weights;
  n.attParams = std::move(params);
  n.mask = tokenMask;
  n.stage = stage;
  n.boundary = boundary;
  return add(std::move(n));
}

int Graph::plugin(int x, const tessera_layer& layer, std::vector<Parameter*> params, int stage,
                  bool boundary) {
  Node n;
  n.op = Op::kPlugin;
  n.inputs = {x};
  n.plugin = &layer;
  n.attParams = std::move(params);
  n.stage = stage;
  n.boundary = boundary;
  return add(std::move(n));
}

namespace {
std::vector<const Tensor*> valuesOf(const std::vector<Parameter*>& params) {
  std::vector<const Tensor*> values;
  for (const Parameter* p : params) values.push_back(&p->value);
  return values;
}
}  // namespace

void Graph::markOutput(int node) {
  nodes_[node].output = true;
}

bool Graph::keeps(const Node& n) const {
  if (n.output) return true;
  // An input given in kNCHW is converted again when needed, except where
  // every value is kept anyway.
  if (n.op == Op::kInput)
    return !n.source.defined() ||
           (mode_ == GraphMode::kTraining && checkpointing_ == Checkpointing::kNone);
  if (mode_ == GraphMode::kInference) return false;
  switch (checkpointing_) {
    case Checkpointing::kNone:
      return n.neededByBackward;
    case Checkpointing::kStage:
      return n.boundary;
    case Checkpointing::kAggressive:
      return isExpensive(n.op) && n.neededByBackward;
  }
  return true;
}

void Graph::compute(int id) {
  Node& n = nodes_[id];
  // A handle, not a reference: recomputing one input may release another.
  auto in = [&](int k) -> Tensor { return value(n.inputs[k]); };
  switch (n.op) {
    case Op::kInput:
      if (n.source.defined()) n.value = backend_.fromNCHW(n.source);
      break;
    case Op::kConv:
      n.value = backend_.conv2d(in(0), n.w->value, n.b ? &n.b->value : nullptr, n.stride, n.pad);
      break;
    case Op::kBatchNorm:
      if (mode_ == GraphMode::kInference) {
        BatchNormState s;
        s.mean.resize(n.runningMean->value.c());
        s.invStd.resize(s.mean.size());
        for (std::size_t c = 0; c < s.mean.size(); ++c) {
          s.mean[c] = n.runningMean->value.data()[c];
          s.invStd[c] = 1.0f / std::sqrt(n.runningVar->value.data()[c] + n.eps);
        }
        n.value = backend_.batchNormApply(in(0), n.gamma->value, n.beta->value, s);
      } else if (n.stateValid) {
        n.value = backend_.batchNormApply(in(0), n.gamma->value, n.beta->value, n.state);
      } else {
        n.value = backend_.batchNormTrain(in(0), n.gamma->value, n.beta->value, n.eps, &n.state);
        n.stateValid = true;
        if (updateRunningStats_) {
          const Tensor& x = in(0);
          const double count = static_cast<double>(x.n() * x.h() * x.w());
          for (std::size_t c = 0; c < n.state.mean.size(); ++c) {
            const double var = 1.0 / (double(n.state.invStd[c]) * n.state.invStd[c]) - n.eps;
            const double unbiased = count > 1 ? var * count / (count - 1) : var;
            float& rm = n.runningMean->value.data()[c];
            float& rv = n.runningVar->value.data()[c];
            rm = static_cast<float>((1 - n.momentum) * rm + n.momentum * n.state.mean[c]);
            rv = static_cast<float>((1 - n.momentum) * rv + n.momentum * unbiased);
          }
          ++n.runningMean->version;
          ++n.runningVar->version;
        }
      }
      break;
    case Op::kRelu:
      n.value = backend_.relu(in(0));
      break;
    case Op::kMaxPool:
      n.value = backend_.maxPool2x2(in(0));
      break;
    case Op::kUpConv:
      n.value = backend_.convTranspose2x2(in(0), n.w->value, n.b ? &n.b->value : nullptr);
      break;
    case Op::kConcat: {
      const Tensor a = in(0);
      n.channelsA = a.c();
      n.value = backend_.concat(a, in(1));
      break;
    }
    case Op::kAttention:
      n.value = backend_.attention(in(0), n.att, n.mask);
      break;
    case Op::kPlugin:
      n.value = backend_.pluginLayer(*n.plugin, in(0), valuesOf(n.attParams));
      break;
  }
  if (!inBackward_) return;
  // Recomputation during backward: inputs that the policy does not keep are
  // dropped as soon as their consumer exists again, unless a backward step
  // reads them and recomputing them would cost a convolution. Float copies
  // of bfloat16-stored values go too (the packed copy stays).
  for (int j : n.inputs) {
    Node& m = nodes_[j];
    if ((!keeps(m) && (!isComputeBound(m.op) || !m.neededByBackward)) || !m.packed.empty())
      release(j);
  }
}

const Tensor& Graph::value(int id) {
  Node& n = nodes_[id];
  if (n.value.defined()) return n.value;
  if (!n.packed.empty()) {
    n.value = Tensor::empty(n.packedShape, n.packedLayout);
    float* d = n.value.data();
    const std::uint16_t* s = n.packed.data();
    parallelChunks(0, n.value.storageCount(), [&](std::int64_t b, std::int64_t e, int) {
      for (std::int64_t i = b; i < e; ++i) d[i] = fromBf16(s[i]);
    });
    return n.value;
  }
  compute(id);
  return nodes_[id].value;
}

void Graph::release(int id) {
  Node& n = nodes_[id];
  n.value = Tensor();
}

void Graph::forward() {
  for (Node& n : nodes_) n.remaining = 0;
  for (Node& n : nodes_) {
    for (int i : n.inputs) {
      ++nodes_[i].remaining;
      if (backwardReadsInputs(n.op)) nodes_[i].neededByBackward = true;
    }
    if (backwardReadsOwnValue(n.op)) n.neededByBackward = true;
  }
  for (std::size_t id = 0; id < nodes_.size(); ++id) {
    Node& n = nodes_[id];
    if (!n.value.defined()) compute(static_cast<int>(id));
    n.needsGrad = n.op != Op::kInput;
    for (int i : n.inputs) {
      Node& src = nodes_[i];
      if (--src.remaining > 0) continue;
      if (!keeps(src)) {
        release(i);
      } else if (halfStorage_ && mode_ == GraphMode::kTraining && src.op != Op::kInput &&
                 checkpointing_ != Checkpointing::kNone && !src.output) {
        src.packedShape = src.value.shape();
        src.packedLayout = src.value.layout();
        src.packed.resize(static_cast<std::size_t>(src.value.storageCount()));
        const float* s = src.value.data();
        std::uint16_t* d = src.packed.data();
        parallelChunks(0, src.value.storageCount(), [&](std::int64_t b, std::int64_t e, int) {
          for (std::int64_t k = b; k < e; ++k) d[k] = toBf16(s[k]);
        });
        release(i);
      }
    }
  }
}

void Graph::accumulate(int id, Tensor grad) {
  Node& n = nodes_[id];
  if (!n.needsGrad) return;
  if (!n.grad.defined()) {
    n.grad = std::move(grad);
  } else {
    addInto(n.grad, grad);
  }
}

double Graph::addLoss(int logits, const Tensor& labels, double diceWeight, double weight) {
  Tensor dlogits;
  const double loss = backend_.crossEntropyDiceLoss(value(logits), labels, diceWeight, &dlogits);
  scaleInPlace(dlogits, static_cast<float>(weight));
  accumulate(logits, std::move(dlogits));
  // A head's backward never reads its own logits.
  release(logits);
  return loss;
}

double Graph::addDistillationLoss(int logits, const Tensor& teacher, double temperature,
                                  double weight) {
  Tensor dlogits;
  const double loss = backend_.distillationLoss(value(logits), teacher, temperature, &dlogits);
  scaleInPlace(dlogits, static_cast<float>(weight));
  accumulate(logits, std::move(dlogits));
  return loss;
}

namespace {
void addParamGrad(Parameter* p, const Tensor& g) {
  if (!p || !p->trainable || !g.defined()) return;
  addInto(p->grad, g);
}
}  // namespace

void Graph::backward() {
  inBackward_ = true;
  for (int id = static_cast<int>(nodes_.size()) - 1; id >= 0; --id) {
    Node& n = nodes_[id];
    if (!n.grad.defined() || n.op == Op::kInput) {
      release(id);
      n.packed = {};
      continue;
    }
    const bool inputNeedsGrad = !n.inputs.empty() && nodes_[n.inputs[0]].needsGrad;
    // Every consumer's backward has run: the value is dead unless this
    // backward reads it.
    if (!backwardReadsOwnValue(n.op)) release(id);
    Tensor dx, dw, db;
    switch (n.op) {
      case Op::kConv: {
        const Tensor& x = value(n.inputs[0]);
        backend_.conv2dBackward(x, n.w->value, n.grad, n.stride, n.pad,
                                inputNeedsGrad ? &dx : nullptr, &dw, n.b ? &db : nullptr);
        addParamGrad(n.w, dw);
        addParamGrad(n.b, db);
        break;
      }
      case Op::kBatchNorm: {
        const Tensor& x = value(n.inputs[0]);
        Tensor dgamma, dbeta;
        backend_.batchNormBackward(x, n.gamma->value, n.state, n.grad, &dx, &dgamma, &dbeta);
        addParamGrad(n.gamma, dgamma);
        addParamGrad(n.beta, dbeta);
        break;
      }
      case Op::kRelu:
        dx = backend_.reluBackward(value(id), n.grad);
        break;
      case Op::kMaxPool:
        dx = backend_.maxPool2x2Backward(value(n.inputs[0]), n.grad);
        break;
      case Op::kUpConv: {
        const Tensor& x = value(n.inputs[0]);
        backend_.convTranspose2x2Backward(x, n.w->value, n.grad, &dx, &dw, n.b ? &db : nullptr);
        addParamGrad(n.w, dw);
        addParamGrad(n.b, db);
        break;
      }
      case Op::kConcat: {
        Tensor da, dbb;
        backend_.split(n.grad, n.channelsA, &da, &dbb);
        accumulate(n.inputs[0], std::move(da));
        accumulate(n.inputs[1], std::move(dbb));
        break;
      }
      case Op::kAttention: {
        AttentionGradients g;
        dx = backend_.attentionBackward(value(n.inputs[0]), n.att, n.grad, &g, n.mask);
        const Tensor* grads[8] = {&g.dwq, &g.dbq, &g.dwk, &g.dbk, &g.dwv, &g.dbv, &g.dwo, &g.dbo};
        for (int k = 0; k < 8; ++k) addParamGrad(n.attParams[k], *grads[k]);
        break;
      }
      case Op::kPlugin: {
        std::vector<Tensor> dparams;
        backend_.pluginLayerBackward(*n.plugin, value(n.inputs[0]), valuesOf(n.attParams), n.grad,
                                     inputNeedsGrad ? &dx : nullptr, &dparams);
        for (std::size_t k = 0; k < dparams.size(); ++k) addParamGrad(n.attParams[k], dparams[k]);
        break;
      }
      case Op::kInput:
        break;
    }
    if (dx.defined() && n.op != Op::kConcat) accumulate(n.inputs[0], std::move(dx));
    n.grad = Tensor();
    release(id);
    n.packed = {};
    releaseRecomputed(id);
  }
}

void Graph::releaseRecomputed(int processed) {
  // Values recomputed for this step by cheap ops (batch norm, ReLU, pooling,
  // concat, input conversion) and float copies of bfloat16-stored values are
  // dropped now rather than at their own backward, which may be far away
  // (a skip connection's is on the other side of the network); they are
  // recomputed if needed again. The next node keeps a value its own
  // backward reads (ReLU). Recomputed conv, up-conv and attention outputs
  // stay until their own backward: recomputing them twice would cost more
  // than the memory is worth.
  for (int j = 0; j < processed; ++j) {
    Node& m = nodes_[j];
    if (!m.value.defined() || (j == processed - 1 && backwardReadsOwnValue(m.op))) continue;
    if ((!keeps(m) && !isComputeBound(m.op)) || !m.packed.empty()) release(j);
  }
}

}  // namespace tessera::models
