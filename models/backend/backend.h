// The op interface every compute backend implements (today reference and
// CPU), in the spirit of ggml's backend interface: the network code is
// written once against it, and tests run the same network on two backends
// and compare. Tensors passed in and returned are in the backend's
// activation layout (layout()); parameters (weights, biases, BN vectors) are
// always kNCHW and owned by the caller — backends may cache reordered copies
// keyed by the parameter's storage and version.
//
// Each op is one file per backend, with the same stem: <op>.cpp in
// models/ops/reference/, <op>_cpu.cpp in models/ops/cpu/; a GPU backend
// would add <op>_cuda.cu in models/ops/cuda/ (docs/ENGINE.md). Shapes follow
// models/ops/reference/reference_ops.h; the structs some ops take are in
// models/backend/op_params.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/backend/op_params.h"
#include "models/backend/tensor.h"

struct tessera_layer;  // tessera/plugin.h

namespace tessera::models {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual Layout layout() const = 0;

  // Converts kNCHW data (network input, labels) into this backend's layout and back.
  virtual Tensor fromNCHW(const Tensor& x) { return x.to(layout()); }
  virtual Tensor toNCHW(const Tensor& x) { return x.to(Layout::kNCHW); }

  virtual Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride,
                        int pad) = 0;
  // Any of dx, dw, dbias may be null. dw and dbias are overwritten, not accumulated.
  virtual void conv2dBackward(const Tensor& x, const Tensor& w, const Tensor& dy, int stride,
                              int pad, Tensor* dx, Tensor* dw, Tensor* dbias) = 0;

  virtual Tensor convTranspose2x2(const Tensor& x, const Tensor& w, const Tensor* bias) = 0;
  virtual void convTranspose2x2Backward(const Tensor& x, const Tensor& w, const Tensor& dy,
                                        Tensor* dx, Tensor* dw, Tensor* dbias) = 0;

  virtual Tensor maxPool2x2(const Tensor& x) = 0;
  virtual Tensor maxPool2x2Backward(const Tensor& x, const Tensor& dy) = 0;

  virtual Tensor relu(const Tensor& x) = 0;
  virtual Tensor reluBackward(const Tensor& y, const Tensor& dy) = 0;

  // Training-mode batch norm: normalises with batch statistics and returns them.
  virtual Tensor batchNormTrain(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                                BatchNormState* state) = 0;
  // Batch norm with given statistics (recomputation in checkpointed training,
  // or inference with running statistics converted to mean/invStd).
  virtual Tensor batchNormApply(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                const BatchNormState& state) = 0;
  virtual void batchNormBackward(const Tensor& x, const Tensor& gamma, const BatchNormState& state,
                                 const Tensor& dy, Tensor* dx, Tensor* dgamma, Tensor* dbeta) = 0;

  virtual Tensor concat(const Tensor& a, const Tensor& b) = 0;
  virtual void split(const Tensor& ab, std::int64_t channelsA, Tensor* a, Tensor* b) = 0;
  virtual Tensor add(const Tensor& a, const Tensor& b) = 0;

  // tokenMask: per sample H×W bytes (non-zero = token takes part), or null for all.
  virtual Tensor attention(const Tensor& x, const AttentionWeights& p,
                           const std::vector<std::uint8_t>* tokenMask) = 0;
  virtual Tensor attentionBackward(const Tensor& x, const AttentionWeights& p, const Tensor& dy,
                                   AttentionGradients* grads,
                                   const std::vector<std::uint8_t>* tokenMask) = 0;

  // Softmax cross-entropy + weighted soft Dice; labels (N,1,H,W) class indices
  // as floats in kNCHW. Returns the loss; dlogits in this backend's layout.
  virtual double crossEntropyDiceLoss(const Tensor& logits, const Tensor& labels, double diceWeight,
                                      Tensor* dlogits) = 0;
  // Knowledge distillation: T²·KL(softmax(teacher/T) ‖ softmax(student/T)),
  // the mean over pixels. student in this backend's layout, teacher (same
  // shape) in kNCHW; T > 0. Returns the loss; dstudent in this backend's layout.
  virtual double distillationLoss(const Tensor& student, const Tensor& teacher, double temperature,
                                  Tensor* dstudent) = 0;
  virtual Tensor argmax(const Tensor& logits) = 0;  // (N,1,H,W) kNCHW

  // Forward only: the further ops of networks imported from other frameworks
  // (models/graph/), which Tessera runs but does not train.
  virtual Tensor convTranspose(const Tensor& x, const Tensor& w, const Tensor* bias,
                               const ConvTransposeParams& p) = 0;
  virtual Tensor instanceNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                              float eps) = 0;
  virtual Tensor leakyRelu(const Tensor& x, float alpha) = 0;
  virtual Tensor prelu(const Tensor& x, const Tensor& slope) = 0;  // slope (1, C, 1, 1)
  virtual Tensor resize(const Tensor& x, const ResizeParams& p) = 0;
  virtual Tensor softmax(const Tensor& logits) = 0;  // over channels

  // A layer a plugin adds (models/backend/plugin_layer.h): the reference
  // backend runs the layer's reference functions, the CPU backend its CPU
  // ones. params are the layer's parameters in declared order (kNCHW). A
  // failing call gives NaN and records the failure (takePluginLayerFailure).
  // dx may be null; dparams are overwritten, one per parameter.
  virtual Tensor pluginLayer(const tessera_layer& layer, const Tensor& x,
                             const std::vector<const Tensor*>& params) = 0;
  virtual void pluginLayerBackward(const tessera_layer& layer, const Tensor& x,
                                   const std::vector<const Tensor*>& params, const Tensor& dy,
                                   Tensor* dx, std::vector<Tensor>* dparams) = 0;
};

std::unique_ptr<Backend> makeReferenceBackend();
// oneDNN-based CPU backend (kBlocked16). Threads follow core/parallel.h.
std::unique_ptr<Backend> makeCpuBackend();

}  // namespace tessera::models
