// Plugin layers on the CPU backend. The ABI's tensors are kNCHW, so the
// blocked activations are reordered around each call: two copies of the
// layer's input and output, small next to what a layer computes.
#include <limits>

#include "models/backend/plugin_layer.h"
#include "models/ops/cpu/internal/cpu_ops.h"

namespace tessera::models::cpu {

Tensor pluginLayer(const tessera_layer& layer, const Tensor& x,
                   const std::vector<const Tensor*>& params) {
  Tensor y;
  if (Status s =
          runPluginForward(layer, layer.forward_cpu, x.to(Layout::kNCHW), params, nullptr, &y);
      !s.ok()) {
    recordPluginLayerFailure(s.error());
    y.fill(std::numeric_limits<float>::quiet_NaN());
  }
  return y.to(x.layout());
}

void pluginLayerBackward(const tessera_layer& layer, const Tensor& x,
                         const std::vector<const Tensor*>& params, const Tensor& dy, Tensor* dx,
                         std::vector<Tensor>* dparams) {
  Tensor plainDx;
  if (Status s = runPluginBackward(layer, layer.backward_cpu, x.to(Layout::kNCHW), params,
                                   dy.to(Layout::kNCHW), dx ? &plainDx : nullptr, dparams);
      !s.ok()) {
    recordPluginLayerFailure(s.error());
    if (dx) plainDx.fill(std::numeric_limits<float>::quiet_NaN());
  }
  if (dx) *dx = plainDx.to(x.layout());
}

}  // namespace tessera::models::cpu
