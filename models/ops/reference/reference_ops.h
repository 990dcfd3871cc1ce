// Naive, obviously correct implementations of every network op, on kNCHW
// tensors. They are the test oracle for every optimised backend (today the
// CPU backend and the inference kernels) and for gradients (checked against finite differences).
// Never used on the production path.
//
// One file per op, op <op> in <op>.cpp beside models/ops/cpu/<op>_cpu.cpp
// (docs/ENGINE.md has the op map); reference_backend.cpp adapts them to
// the Backend interface. Functions marked "reference only" have no
// counterpart in another backend: they serve the tests as oracles.
//
// Shapes (N batch, C channels, H×W pixels):
//   conv weight   (Cout, Cin, K, K)      bias (1, Cout, 1, 1)
//   convT weight  (Cin, Cout, 2, 2)      ONNX / PyTorch ConvTranspose layout
//   BN params     (1, C, 1, 1) each
//   labels        (N, 1, H, W) holding class indices as floats
#pragma once

#include <cstdint>
#include <vector>

#include "models/backend/op_params.h"
#include "models/backend/tensor.h"

struct tessera_layer;  // tessera/plugin.h

namespace tessera::models::ref {

// conv2d.cpp: y = conv(x, w) + b with zero padding `pad` on every side.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad);
// Gradients of conv2d; any output pointer may be null.
void conv2dBackward(const Tensor& x, const Tensor& w, const Tensor& dy, int stride, int pad,
                    Tensor* dx, Tensor* dw, Tensor* dbias);

// conv_transpose.cpp: transposed 2×2 convolution with stride 2,
// (N, Cin, H, W) → (N, Cout, 2H, 2W).
Tensor convTranspose2x2(const Tensor& x, const Tensor& w, const Tensor* bias);
void convTranspose2x2Backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx,
                              Tensor* dw, Tensor* dbias);

// conv_transpose.cpp, forward only (imported networks): any square kernel,
// stride, padding and output padding, PyTorch's ConvTranspose2d.
Tensor convTranspose(const Tensor& x, const Tensor& w, const Tensor* bias,
                     const ConvTransposeParams& p);

// pooling.cpp: 2×2 max pooling, stride 2 (H and W even). Backward routes
// each gradient to the first maximum in row-major window order.
Tensor maxPool2x2(const Tensor& x);
Tensor maxPool2x2Backward(const Tensor& x, const Tensor& dy);

// relu.cpp.
Tensor relu(const Tensor& x);
// dy masked by y > 0 (y is relu's output).
Tensor reluBackward(const Tensor& y, const Tensor& dy);

// add.cpp: a + b, same shape. Its backward passes dy to both inputs.
Tensor add(const Tensor& a, const Tensor& b);

// batch_norm.cpp: batch norm over (N, H, W) per channel.
Tensor batchNormTrain(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                      BatchNormState* state);
void batchNormBackward(const Tensor& x, const Tensor& gamma, const BatchNormState& state,
                       const Tensor& dy, Tensor* dx, Tensor* dgamma, Tensor* dbeta);
// y = γ·(x − mean)·invStd + β in float, the one formula every path uses so
// that recomputation reproduces training-mode outputs bit for bit.
Tensor batchNormApply(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                      const BatchNormState& state);
// Reference only: y = γ·(x − running mean)/sqrt(running var + eps) + β in
// double, the oracle of infer::InferenceEngine's folded batch norm.
Tensor batchNormInference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                          const Tensor& runningMean, const Tensor& runningVar, float eps);

// concat.cpp: channel concatenation and its inverse (the backward of concat).
Tensor concat(const Tensor& a, const Tensor& b);
void split(const Tensor& ab, std::int64_t channelsA, Tensor* a, Tensor* b);

// attention.cpp: bottleneck self-attention with a residual, per sample:
//   tokens t = pixels (h, w) with an active mask value (all when mask empty),
//   q = Wq x + bq, k = Wk x + bk, v = Wv x + bv   (1×1 convs, C → C)
//   per head (d = C / heads channels): A = softmax_t'(q_tᵀ k_t' / sqrt(d)),
//   o_t = Σ_t' A_tt' v_t';  y = x + Wo o + bo at active tokens, y = x elsewhere.
// Weights (C, C, 1, 1), biases (1, C, 1, 1). mask: H×W bytes per sample or empty.
Tensor attention(const Tensor& x, const AttentionWeights& p,
                 const std::vector<std::uint8_t>* tokenMask = nullptr);
Tensor attentionBackward(const Tensor& x, const AttentionWeights& p, const Tensor& dy,
                         AttentionGradients* grads,
                         const std::vector<std::uint8_t>* tokenMask = nullptr);

// loss.cpp: mean softmax cross-entropy over pixels plus (1 − mean soft Dice
// over the classes present in the batch or predicted), weighted:
// loss = ce + diceWeight·dice. Returns the loss and writes d loss / d logits.
double crossEntropyDiceLoss(const Tensor& logits, const Tensor& labels, double diceWeight,
                            Tensor* dlogits);
// distillation_loss.cpp: T² · mean over pixels of Σ_c q_c (log q_c − log p_c),
// q = softmax(teacher / T), p = softmax(student / T), in double; the
// gradient is T · (p − q) / pixels.
double distillationLoss(const Tensor& student, const Tensor& teacher, double temperature,
                        Tensor* dstudent);
// Reference only: deep-supervision targets for the loss at coarser levels;
// each factor×factor cell takes its most frequent label (ties to the smaller
// value). H and W must be multiples of factor.
Tensor downsampleLabels(const Tensor& labels, int factor);

// Forward-only ops of imported networks (models/graph/), which Tessera runs
// but does not train.
// softmax.cpp: softmax over channels at every pixel (also the loss's first step).
Tensor softmax(const Tensor& logits);
// instance_norm.cpp: per sample and channel, y = γ·(x − mean)/sqrt(var + eps) + β
// over the H×W plane (biased variance); gamma, beta (1, C, 1, 1).
Tensor instanceNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps);
// leaky_relu.cpp: y = x for x ≥ 0, alpha·x below.
Tensor leakyRelu(const Tensor& x, float alpha);
// prelu.cpp: y = x for x ≥ 0, slope[c]·x below; slope (1, C, 1, 1).
Tensor prelu(const Tensor& x, const Tensor& slope);
// resize.cpp: up-sampling by whole factors → (N, C, H·scaleH, W·scaleW).
Tensor resize(const Tensor& x, const ResizeParams& p);

// plugin_layer.cpp: a plugin's layer through its reference functions
// (models/backend/plugin_layer.h); NaN results on failure.
Tensor pluginLayer(const tessera_layer& layer, const Tensor& x,
                   const std::vector<const Tensor*>& params);
void pluginLayerBackward(const tessera_layer& layer, const Tensor& x,
                         const std::vector<const Tensor*>& params, const Tensor& dy, Tensor* dx,
                         std::vector<Tensor>* dparams);

// argmax.cpp: index of the largest channel per pixel (ties to the smaller
// index) → (N, 1, H, W).
Tensor argmax(const Tensor& logits);

}  // namespace tessera::models::ref
