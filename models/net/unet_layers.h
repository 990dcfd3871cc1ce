// The U-Net's structure, written once: the ordered layers of a UNetConfig.
// The training graph (net/unet.cpp), the inference engine's steps
// (infer/inference_engine.cpp), the ONNX graph that files hold and that
// import expects (io/internal/onnx_graph.cpp) and the FLOP count are all
// built by walking this list.
//
// The order is execution order, and also the order in which parameters are
// created (and so initialised) and in which ONNX nodes and initializers are
// written, so it is part of the file format: reordering layers changes
// initial weights and the bytes of exported files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/backend/tensor.h"
#include "models/net/unet.h"

struct tessera_layer;  // tessera/plugin.h

namespace tessera::models {

enum class LayerKind {
  // 3×3 conv (stride 1, zero padding 1, no bias), batch norm, ReLU.
  // parameters: conv weight (out, in, 3, 3); bn weight, bias, running_mean,
  // running_var (1, out, 1, 1), the running statistics not trainable.
  kConvBnRelu,
  kMaxPool,  // 2×2, stride 2; no parameters
  // Bottleneck multi-head self-attention with a residual (config.attentionHeads
  // heads). parameters: q, k, v, o weight (C, C, 1, 1) and bias (1, C, 1, 1),
  // interleaved: q.weight, q.bias, k.weight, ..., o.bias.
  kAttention,
  // 2×2 transposed conv, stride 2. parameters: weight (in, out, 2, 2), bias (1, out, 1, 1).
  kConvTranspose,
  kConcat,  // channels of inputs[0] (the up-sampled path), then inputs[1] (the skip)
  // 1×1 conv with bias to config.classes: an output head, level 0 being the
  // network's output. parameters: weight (classes, in, 1, 1), bias (1, classes, 1, 1).
  kHead,
  // A plugin's layer (Layer::plugin), C → C channels at the same size.
  // parameters: as the plugin declares them for C channels, named
  // "<layer name>.<parameter>"; all trainable.
  kPlugin,
};

struct LayerParameter {
  std::string name;  // PyTorch state_dict style, e.g. "enc0.conv1.weight"
  Shape shape;
  bool trainable = true;
  // How UNet::initialize fills it: kByName follows Tessera's naming
  // conventions (unet.cpp); plugin parameters say what they need.
  enum class Init { kByName, kZeros, kOnes, kNormal } init = Init::kByName;
  double std = 0.0;  // kNormal
};

struct Layer {
  LayerKind kind;
  // Unique: "enc0.conv1", "enc0.pool", "bott.conv2", "att", "up1", "dec1.concat", "head0".
  std::string name;
  // Parameter prefix and index of a kConvBnRelu ("enc0", 1 for enc0.conv1
  // and enc0.bn1); the name and 0 for other kinds.
  std::string block;
  int index = 0;
  int level = 0;  // resolution level of the output: H / 2^level
  // Checkpointing stage of the training graph: encoder level L is stage L
  // (its pooling is stage L + 1), the bottleneck stage `levels`, decoder
  // level L stage 2·levels − L.
  int stage = 0;
  bool stageOutput = false;  // the activation stage checkpointing keeps
  bool decoder = false;      // up-convolutions and decoder convs
  std::int64_t inChannels = 0, outChannels = 0;
  std::vector<int> inputs;  // indices of earlier layers; −1 is the network input
  std::vector<LayerParameter> parameters;
  const tessera_layer* plugin = nullptr;  // kPlugin: owned by its plugin
};

// Every layer, in order. Heads of levels L ≥ 1 only with deepSupervision.
// Plugin layers come after the layer they follow (a stage's output moves to
// its last plugin layer); one that is not loaded or refuses its channels is
// listed without parameters (check config.checkPluginLayers() first).
std::vector<Layer> unetLayers(const UNetConfig& config);

}  // namespace tessera::models
