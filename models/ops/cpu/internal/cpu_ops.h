// Private to the CPU backend: one function per op, op <op> in <op>_cpu.cpp
// beside models/ops/reference/<op>.cpp, glued into a Backend by
// cpu_backend.cpp. Activations are kBlocked16 (nChw16c, channel padding zero
// on input and on output); parameters and their gradients are kNCHW.
// Semantics are those of models/ops/reference/reference_ops.h.
#pragma once

#include <cstdint>
#include <vector>

#include "models/backend/backend.h"

namespace tessera::models::cpu {

class DnnlContext;

// conv2d_cpu.cpp: oneDNN convolution (any K, stride and pad).
Tensor conv2d(DnnlContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias, int stride,
              int pad);
void conv2dBackward(DnnlContext& ctx, const Tensor& x, const Tensor& w, const Tensor& dy,
                    int stride, int pad, Tensor* dx, Tensor* dw, Tensor* dbias);

// conv_transpose_cpu.cpp: oneDNN deconvolution, 2×2 kernel, stride 2.
Tensor convTranspose2x2(DnnlContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias);
void convTranspose2x2Backward(DnnlContext& ctx, const Tensor& x, const Tensor& w, const Tensor& dy,
                              Tensor* dx, Tensor* dw, Tensor* dbias);

// conv_transpose_cpu.cpp, forward only: any square kernel, stride, padding
// and output padding ≤ padding (oneDNN takes no negative padding).
Tensor convTranspose(DnnlContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
                     const ConvTransposeParams& p);

// pooling_cpu.cpp: 2×2 max pooling; ties go to the first maximum in
// row-major window order, like the reference.
Tensor maxPool2x2(const Tensor& x);
Tensor maxPool2x2Backward(const Tensor& x, const Tensor& dy);

// relu_cpu.cpp.
Tensor relu(const Tensor& x);
Tensor reluBackward(const Tensor& y, const Tensor& dy);

// add_cpu.cpp.
Tensor add(const Tensor& a, const Tensor& b);

// batch_norm_cpu.cpp. Train and apply share one normalisation kernel, so a
// recomputed output equals the training-mode output bit for bit.
Tensor batchNormTrain(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                      BatchNormState* state);
Tensor batchNormApply(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                      const BatchNormState& state);
void batchNormBackward(const Tensor& x, const Tensor& gamma, const BatchNormState& state,
                       const Tensor& dy, Tensor* dx, Tensor* dgamma, Tensor* dbeta);

// concat_cpu.cpp.
Tensor concat(const Tensor& a, const Tensor& b);
void split(const Tensor& ab, std::int64_t channelsA, Tensor* a, Tensor* b);

// attention_cpu.cpp: token GEMMs through oneDNN's sgemm.
Tensor attention(const Tensor& x, const AttentionWeights& p,
                 const std::vector<std::uint8_t>* tokenMask);
Tensor attentionBackward(const Tensor& x, const AttentionWeights& p, const Tensor& dy,
                         AttentionGradients* grads, const std::vector<std::uint8_t>* tokenMask);

// loss_cpu.cpp.
double crossEntropyDiceLoss(const Tensor& logits, const Tensor& labels, double diceWeight,
                            Tensor* dlogits);
// distillation_loss_cpu.cpp: student and dstudent nChw16c, teacher kNCHW.
double distillationLoss(const Tensor& student, const Tensor& teacher, double temperature,
                        Tensor* dstudent);

// Forward-only ops of imported networks, one file each.
Tensor softmax(const Tensor& logits);  // softmax_cpu.cpp
Tensor instanceNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                    float eps);                         // instance_norm_cpu.cpp
Tensor leakyRelu(const Tensor& x, float alpha);         // leaky_relu_cpu.cpp
Tensor prelu(const Tensor& x, const Tensor& slope);     // prelu_cpu.cpp
Tensor resize(const Tensor& x, const ResizeParams& p);  // resize_cpu.cpp

// plugin_layer_cpu.cpp: a plugin's layer through its CPU functions, on
// kBlocked16 activations (reordered to kNCHW for the plugin and back).
Tensor pluginLayer(const tessera_layer& layer, const Tensor& x,
                   const std::vector<const Tensor*>& params);
void pluginLayerBackward(const tessera_layer& layer, const Tensor& x,
                         const std::vector<const Tensor*>& params, const Tensor& dy, Tensor* dx,
                         std::vector<Tensor>* dparams);

// argmax_cpu.cpp.
Tensor argmax(const Tensor& logits);

// Offset in nChw16c storage of (sample n, channel c, pixel p), for a tensor
// of nb channel blocks and hw pixels per plane (loss and argmax).
struct BlockedPixels {
  std::int64_t nb, hw;
  std::int64_t at(std::int64_t n, std::int64_t c, std::int64_t p) const {
    return ((n * nb + c / kChannelBlock) * hw + p) * kChannelBlock + c % kChannelBlock;
  }
};

}  // namespace tessera::models::cpu
