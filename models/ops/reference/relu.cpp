#include <algorithm>

#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor relu(const Tensor& x) {
  Tensor y = x.to(Layout::kNCHW);
  for (std::int64_t i = 0; i < y.shape().count(); ++i) y.data()[i] = std::max(0.0f, y.data()[i]);
  return y;
}

Tensor reluBackward(const Tensor& y, const Tensor& dy) {
  Tensor dx = dy.to(Layout::kNCHW);
  for (std::int64_t i = 0; i < dx.shape().count(); ++i)
    if (!(y.data()[i] > 0.0f)) dx.data()[i] = 0.0f;
  return dx;
}

}  // namespace tessera::models::ref
