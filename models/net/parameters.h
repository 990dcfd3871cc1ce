// Named network parameters (weights, biases, batch-norm vectors and running
// statistics), in kNCHW, with their gradients. Names follow PyTorch's
// state_dict convention ("enc0.conv1.weight") so that models move between
// Tessera, ONNX and PyTorch by name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/backend/tensor.h"

namespace tessera::models {

struct Parameter {
  std::string name;
  Tensor value;
  Tensor grad;                // same shape; zeroed by ParameterSet::zeroGrad()
  bool trainable = true;      // false for batch-norm running statistics
  std::uint64_t version = 0;  // bumped on every update so backends can refresh caches
};

class ParameterSet {
 public:
  Parameter& add(const std::string& name, Shape shape, bool trainable = true);
  Parameter* find(const std::string& name);
  const Parameter* find(const std::string& name) const;
  std::vector<std::unique_ptr<Parameter>>& all() { return params_; }
  const std::vector<std::unique_ptr<Parameter>>& all() const { return params_; }
  void zeroGrad();
  std::int64_t trainableCount() const;  // number of trainable floats
  // Deep copy of values (gradients are not copied).
  ParameterSet clone() const;

 private:
  std::vector<std::unique_ptr<Parameter>> params_;
};

}  // namespace tessera::models
