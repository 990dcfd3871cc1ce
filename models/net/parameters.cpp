#include "models/net/parameters.h"

namespace tessera::models {

Parameter& ParameterSet::add(const std::string& name, Shape shape, bool trainable) {
  auto p = std::make_unique<Parameter>();
  p->name = name;
  p->value = Tensor::zeros(shape);
  if (trainable) p->grad = Tensor::zeros(shape);
  p->trainable = trainable;
  params_.push_back(std::move(p));
  return *params_.back();
}

Parameter* ParameterSet::find(const std::string& name) {
  for (auto& p : params_)
    if (p->name == name) return p.get();
  return nullptr;
}

const Parameter* ParameterSet::find(const std::string& name) const {
  for (const auto& p : params_)
    if (p->name == name) return p.get();
  return nullptr;
}

void ParameterSet::zeroGrad() {
  for (auto& p : params_)
    if (p->grad.defined()) p->grad.setZero();
}

std::int64_t ParameterSet::trainableCount() const {
  std::int64_t total = 0;
  for (const auto& p : params_)
    if (p->trainable) total += p->value.shape().count();
  return total;
}

ParameterSet ParameterSet::clone() const {
  ParameterSet copy;
  for (const auto& p : params_) {
    Parameter& q = copy.add(p->name, p->value.shape(), p->trainable);
    q.value = p->value.clone();
    q.version = p->version;
  }
  return copy;
}

}  // namespace tessera::models
