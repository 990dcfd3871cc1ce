// Layer types that plugins add to the network (the ABI is tessera_layer in
// sdk/include/tessera/plugin.h): the process-wide table of loaded layers,
// the checks a layer passes before it is registered, and the calls the
// backends make into it.
//
// The table is process-wide because layers are found by name wherever a
// model is built or read (files, training, the engine), and plugins are
// never unloaded. The plugin loader (models/pipeline/plugins.h) fills it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/backend/tensor.h"
#include "tessera/plugin.h"

namespace tessera::models {

struct PluginLayer {
  const tessera_layer* layer = nullptr;  // owned by its plugin
  std::string plugin;                    // the plugin's name and file, for messages
};

// Checks the layer (see checkPluginLayer) and adds it. Refuses a name
// already registered by another plugin; registering the same layer again is
// a no-op.
Status registerPluginLayer(const tessera_layer* layer, const std::string& plugin);
// nullptr when no loaded plugin has a layer of that name.
const tessera_layer* findPluginLayer(const std::string& name);
std::vector<PluginLayer> registeredPluginLayers();

// The layer's parameters on `channels` channels, with names, dims and
// initialisation checked ([a-z0-9_]+, unique, positive dims).
Result<std::vector<tessera_layer_parameter>> pluginLayerParameters(const tessera_layer& layer,
                                                                   std::int64_t channels);

// What registerPluginLayer requires of a layer: a name of [a-z0-9_]+, all
// five functions, and that on random data (two samples, 32 channels, 12×12
// pixels) the reference and CPU forward and backward agree within 1e-4
// (relative), the CPU forward's outputs at active pixels do not depend on
// the active mask, and no call fails.
Status checkPluginLayer(const tessera_layer& layer);

// The forward / backward through `fn` on kNCHW tensors. y is allocated
// here; dx only when wanted; dparams are allocated to the parameters' shapes.
// active: N·H·W bytes or nullptr. A failing call is kUnsupported with the
// layer's message.
Status runPluginForward(const tessera_layer& layer, tessera_layer_fn fn, const Tensor& x,
                        const std::vector<const Tensor*>& params, const std::uint8_t* active,
                        Tensor* y);
Status runPluginBackward(const tessera_layer& layer, tessera_layer_fn fn, const Tensor& x,
                         const std::vector<const Tensor*>& params, const Tensor& dy, Tensor* dx,
                         std::vector<Tensor>* dparams);

// Backend ops return tensors, not statuses: a layer call that fails inside
// one fills its result with NaN and records the message here. Whoever runs
// a network with plugin layers (trainer, segmenter) takes it afterwards: the
// first failure since the last take, or OK.
void recordPluginLayerFailure(const Error& error);
Status takePluginLayerFailure();

}  // namespace tessera::models
