#include "models/train/adamw.h"

#include <cmath>

#include "core/parallel.h"

namespace tessera::models {

AdamW::AdamW(ParameterSet& params, AdamWOptions options) : params_(params), options_(options) {
  for (auto& p : params_.all()) {
    if (!p->trainable) continue;
    trainable_.push_back(p.get());
    const bool isWeight = p->name.ends_with(".weight") && p->name.find(".bn") == std::string::npos;
    decays_.push_back(isWeight);
    m_.push_back(Tensor::zeros(p->value.shape()));
    v_.push_back(Tensor::zeros(p->value.shape()));
  }
}

void AdamW::step(double lr) {
  ++steps_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double correction1 = 1.0 - std::pow(b1, static_cast<double>(steps_));
  const double correction2 = 1.0 - std::pow(b2, static_cast<double>(steps_));
  for (std::size_t i = 0; i < trainable_.size(); ++i) {
    Parameter& p = *trainable_[i];
    float* w = p.value.data();
    const float* g = p.grad.data();
    float* m = m_[i].data();
    float* v = v_[i].data();
    const double decay = decays_[i] ? options_.weightDecay : 0.0;
    parallelChunks(0, p.value.shape().count(), [&](std::int64_t begin, std::int64_t end, int) {
      for (std::int64_t k = begin; k < end; ++k) {
        m[k] = static_cast<float>(b1 * m[k] + (1 - b1) * g[k]);
        v[k] = static_cast<float>(b2 * v[k] + (1 - b2) * double(g[k]) * g[k]);
        const double mhat = m[k] / correction1, vhat = v[k] / correction2;
        w[k] = static_cast<float>(
            w[k] - lr * (mhat / (std::sqrt(vhat) + options_.epsilon) + decay * w[k]));
      }
    });
    ++p.version;
  }
}

double warmupCosine(std::int64_t step, std::int64_t warmup, std::int64_t total, double peak,
                    double floor) {
  if (step < warmup) return peak * static_cast<double>(step + 1) / warmup;
  if (step >= total) return floor;
  const double t = static_cast<double>(step - warmup) / std::max<std::int64_t>(1, total - warmup);
  return floor + 0.5 * (peak - floor) * (1.0 + std::cos(M_PI * t));
}

}  // namespace tessera::models
