// The CPU backend: activations in kBlocked16 (nChw16c) end to end, dense
// convolutions through oneDNN, everything else our own kernels (internal/cpu_ops.h).
#include <cstdlib>
#include <new>

#include "core/log.h"
#include "models/backend/backend.h"
#include "models/ops/cpu/internal/cpu_ops.h"
#include "models/ops/cpu/internal/dnnl_context.h"

namespace tessera::models {
namespace {

// oneDNN reports failures as exceptions; none may leave the backend. Running
// out of memory becomes std::bad_alloc, as for any tensor allocation (callers
// check sizes at module boundaries); anything else means shapes the network
// code should never produce: a broken invariant.
template <class F>
auto guarded(const char* op, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    if (e.status == dnnl_out_of_memory) throw std::bad_alloc();
    logError("CPU backend: oneDNN failed in ", op, ": ", e.what());
    std::abort();
  }
}

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  Layout layout() const override { return Layout::kBlocked16; }

  Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* b, int stride, int pad) override {
    return guarded("conv2d", [&] { return cpu::conv2d(ctx_, x, w, b, stride, pad); });
  }
  void conv2dBackward(const Tensor& x, const Tensor& w, const Tensor& dy, int stride, int pad,
                      Tensor* dx, Tensor* dw, Tensor* db) override {
    guarded("conv2d backward",
            [&] { cpu::conv2dBackward(ctx_, x, w, dy, stride, pad, dx, dw, db); });
  }
  Tensor convTranspose2x2(const Tensor& x, const Tensor& w, const Tensor* b) override {
    return guarded("transposed conv", [&] { return cpu::convTranspose2x2(ctx_, x, w, b); });
  }
  void convTranspose2x2Backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx,
                                Tensor* dw, Tensor* db) override {
    guarded("transposed conv backward",
            [&] { cpu::convTranspose2x2Backward(ctx_, x, w, dy, dx, dw, db); });
  }
  Tensor maxPool2x2(const Tensor& x) override { return cpu::maxPool2x2(x); }
  Tensor maxPool2x2Backward(const Tensor& x, const Tensor& dy) override {
    return cpu::maxPool2x2Backward(x, dy);
  }
  Tensor relu(const Tensor& x) override { return cpu::relu(x); }
  Tensor reluBackward(const Tensor& y, const Tensor& dy) override {
    return cpu::reluBackward(y, dy);
  }
  Tensor batchNormTrain(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                        BatchNormState* state) override {
    return cpu::batchNormTrain(x, gamma, beta, eps, state);
  }
  Tensor batchNormApply(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        const BatchNormState& s) override {
    return cpu::batchNormApply(x, gamma, beta, s);
  }
  void batchNormBackward(const Tensor& x, const Tensor& gamma, const BatchNormState& s,
                         const Tensor& dy, Tensor* dx, Tensor* dgamma, Tensor* dbeta) override {
    cpu::batchNormBackward(x, gamma, s, dy, dx, dgamma, dbeta);
  }
  Tensor concat(const Tensor& a, const Tensor& b) override { return cpu::concat(a, b); }
  void split(const Tensor& ab, std::int64_t channelsA, Tensor* a, Tensor* b) override {
    cpu::split(ab, channelsA, a, b);
  }
  Tensor add(const Tensor& a, const Tensor& b) override { return cpu::add(a, b); }
  Tensor attention(const Tensor& x, const AttentionWeights& p,
                   const std::vector<std::uint8_t>* mask) override {
    return guarded("attention", [&] { return cpu::attention(x, p, mask); });
  }
  Tensor attentionBackward(const Tensor& x, const AttentionWeights& p, const Tensor& dy,
                           AttentionGradients* g, const std::vector<std::uint8_t>* mask) override {
    return guarded("attention backward", [&] { return cpu::attentionBackward(x, p, dy, g, mask); });
  }
  double crossEntropyDiceLoss(const Tensor& logits, const Tensor& labels, double diceWeight,
                              Tensor* dlogits) override {
    return cpu::crossEntropyDiceLoss(logits, labels, diceWeight, dlogits);
  }
  double distillationLoss(const Tensor& student, const Tensor& teacher, double temperature,
                          Tensor* dstudent) override {
    return cpu::distillationLoss(student, teacher, temperature, dstudent);
  }
  Tensor argmax(const Tensor& logits) override { return cpu::argmax(logits); }
  Tensor convTranspose(const Tensor& x, const Tensor& w, const Tensor* b,
                       const ConvTransposeParams& p) override {
    return guarded("transposed conv", [&] { return cpu::convTranspose(ctx_, x, w, b, p); });
  }
  Tensor instanceNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                      float eps) override {
    return cpu::instanceNorm(x, gamma, beta, eps);
  }
  Tensor leakyRelu(const Tensor& x, float alpha) override { return cpu::leakyRelu(x, alpha); }
  Tensor prelu(const Tensor& x, const Tensor& slope) override { return cpu::prelu(x, slope); }
  Tensor resize(const Tensor& x, const ResizeParams& p) override { return cpu::resize(x, p); }
  Tensor softmax(const Tensor& logits) override { return cpu::softmax(logits); }
  Tensor pluginLayer(const tessera_layer& layer, const Tensor& x,
                     const std::vector<const Tensor*>& params) override {
    return cpu::pluginLayer(layer, x, params);
  }
  void pluginLayerBackward(const tessera_layer& layer, const Tensor& x,
                           const std::vector<const Tensor*>& params, const Tensor& dy, Tensor* dx,
                           std::vector<Tensor>* dparams) override {
    cpu::pluginLayerBackward(layer, x, params, dy, dx, dparams);
  }

 private:
  cpu::DnnlContext ctx_;
};

}  // namespace

std::unique_ptr<Backend> makeCpuBackend() {
  return std::make_unique<CpuBackend>();
}

}  // namespace tessera::models
