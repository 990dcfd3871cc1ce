// AdamW (Loshchilov & Hutter): Adam moments with weight decay decoupled from
// the gradient, applied to conv / attention weights only (not to biases or
// batch-norm parameters).
#pragma once

#include <cstdint>
#include <vector>

#include "models/net/parameters.h"

namespace tessera::models {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weightDecay = 1e-4;
};

class AdamW {
 public:
  AdamW(ParameterSet& params, AdamWOptions options = {});
  // One update with learning rate lr from every trainable parameter's grad;
  // bumps Parameter::version.
  void step(double lr);
  std::int64_t steps() const { return steps_; }

  // Optimiser state for checkpoints: first and second moments per trainable
  // parameter, in ParameterSet order.
  std::vector<Tensor>& firstMoments() { return m_; }
  std::vector<Tensor>& secondMoments() { return v_; }
  void setSteps(std::int64_t steps) { steps_ = steps; }

 private:
  ParameterSet& params_;
  AdamWOptions options_;
  std::vector<Parameter*> trainable_;
  std::vector<bool> decays_;
  std::vector<Tensor> m_, v_;
  std::int64_t steps_ = 0;
};

// Linear warm-up to `peak`, then cosine decay to `floor` at `total` steps.
double warmupCosine(std::int64_t step, std::int64_t warmup, std::int64_t total, double peak,
                    double floor);

}  // namespace tessera::models
