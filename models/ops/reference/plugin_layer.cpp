// Plugin layers on the reference backend: kNCHW in and out, so the
// layer's reference functions see Tessera's tensors directly.
#include <limits>

#include "models/backend/plugin_layer.h"
#include "models/ops/reference/reference_ops.h"

namespace tessera::models::ref {

Tensor pluginLayer(const tessera_layer& layer, const Tensor& x,
                   const std::vector<const Tensor*>& params) {
  Tensor y;
  if (Status s = runPluginForward(layer, layer.forward_reference, x, params, nullptr, &y);
      !s.ok()) {
    recordPluginLayerFailure(s.error());
    y.fill(std::numeric_limits<float>::quiet_NaN());
  }
  return y;
}

void pluginLayerBackward(const tessera_layer& layer, const Tensor& x,
                         const std::vector<const Tensor*>& params, const Tensor& dy, Tensor* dx,
                         std::vector<Tensor>* dparams) {
  if (Status s = runPluginBackward(layer, layer.backward_reference, x, params, dy, dx, dparams);
      !s.ok()) {
    recordPluginLayerFailure(s.error());
    if (dx) dx->fill(std::numeric_limits<float>::quiet_NaN());
  }
}

}  // namespace tessera::models::ref
