#include <cmath>

#include "models/backend/backend.h"
#include "models/ops/reference/reference_ops.h"

namespace tessera::models {
namespace {

class ReferenceBackend final : public Backend {
 public:
  std::string name() const override { return "reference"; }
  Layout layout() const override { return Layout::kNCHW; }

  Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* b, int stride, int pad) override {
    return ref::conv2d(x, w, b, stride, pad);
  }
  void conv2dBackward(const Tensor& x, const Tensor& w, const Tensor& dy, int stride, int pad,
                      Tensor* dx, Tensor* dw, Tensor* db) override {
    ref::conv2dBackward(x, w, dy, stride, pad, dx, dw, db);
  }
  Tensor convTranspose2x2(const Tensor& x, const Tensor& w, const Tensor* b) override {
    return ref::convTranspose2x2(x, w, b);
  }
  void convTranspose2x2Backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx,
                                Tensor* dw, Tensor* db) override {
    ref::convTranspose2x2Backward(x, w, dy, dx, dw, db);
  }
  Tensor maxPool2x2(const Tensor& x) override { return ref::maxPool2x2(x); }
  Tensor maxPool2x2Backward(const Tensor& x, const Tensor& dy) override {
    return ref::maxPool2x2Backward(x, dy);
  }
  Tensor relu(const Tensor& x) override { return ref::relu(x); }
  Tensor reluBackward(const Tensor& y, const Tensor& dy) override {
    return ref::reluBackward(y, dy);
  }
  Tensor batchNormTrain(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps,
                        BatchNormState* state) override {
    return ref::batchNormTrain(x, gamma, beta, eps, state);
  }
  Tensor batchNormApply(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        const BatchNormState& s) override {
    return ref::batchNormApply(x, gamma, beta, s);
  }
  void batchNormBackward(const Tensor& x, const Tensor& gamma, const BatchNormState& s,
                         const Tensor& dy, Tensor* dx, Tensor* dgamma, Tensor* dbeta) override {
    ref::batchNormBackward(x, gamma, s, dy, dx, dgamma, dbeta);
  }
  Tensor concat(const Tensor& a, const Tensor& b) override { return ref::concat(a, b); }
  void split(const Tensor& ab, std::int64_t channelsA, Tensor* a, Tensor* b) override {
    ref::split(ab, channelsA, a, b);
  }
  Tensor add(const Tensor& a, const Tensor& b) override { return ref::add(a, b); }
  Tensor attention(const Tensor& x, const AttentionWeights& p,
                   const std::vector<std::uint8_t>* mask) override {
    return ref::attention(x, p, mask);
  }
  Tensor attentionBackward(const Tensor& x, const AttentionWeights& p, const Tensor& dy,
                           AttentionGradients* g, const std::vector<std::uint8_t>* mask) override {
    return ref::attentionBackward(x, p, dy, g, mask);
  }
  double crossEntropyDiceLoss(const Tensor& logits, const Tensor& labels, double diceWeight,
                              Tensor* dlogits) override {
    return ref::crossEntropyDiceLoss(logits, labels, diceWeight, dlogits);
  }
  double distillationLoss(const Tensor& student, const Tensor& teacher, double temperature,
                          Tensor* dstudent) override {
    return ref::distillationLoss(student, teacher, temperature, dstudent);
  }
  Tensor argmax(const Tensor& logits) override { return ref::argmax(logits); }
  Tensor convTranspose(const Tensor& x, const Tensor& w, const Tensor* b,
                       const ConvTransposeParams& p) override {
    return ref::convTranspose(x, w, b, p);
  }
  Tensor instanceNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                      float eps) override {
    return ref::instanceNorm(x, gamma, beta, eps);
  }
  Tensor leakyRelu(const Tensor& x, float alpha) override { return ref::leakyRelu(x, alpha); }
  Tensor prelu(const Tensor& x, const Tensor& slope) override { return ref::prelu(x, slope); }
  Tensor resize(const Tensor& x, const ResizeParams& p) override { return ref::resize(x, p); }
  Tensor softmax(const Tensor& logits) override { return ref::softmax(logits); }
  Tensor pluginLayer(const tessera_layer& layer, const Tensor& x,
                     const std::vector<const Tensor*>& params) override {
    return ref::pluginLayer(layer, x, params);
  }
  void pluginLayerBackward(const tessera_layer& layer, const Tensor& x,
                           const std::vector<const Tensor*>& params, const Tensor& dy, Tensor* dx,
                           std::vector<Tensor>* dparams) override {
    ref::pluginLayerBackward(layer, x, params, dy, dx, dparams);
  }
};

}  // namespace

std::unique_ptr<Backend> makeReferenceBackend() {
  return std::make_unique<ReferenceBackend>();
}

}  // namespace tessera::models
