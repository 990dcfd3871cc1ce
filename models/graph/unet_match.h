// Whether an imported network is Tessera's U-Net (net/unet_layers.h) in
// another framework's clothes: two 3×3 conv (+ batch norm) + ReLU per stage,
// 2×2 max pooling, 2×2 transposed convolutions, skip concatenation
// [up, skip], a 1×1 head, no attention. Such a network maps onto Tessera's
// blocks and runs block-sparse; any other is run dense, and the error says
// why (the first thing that does not map).
#pragma once

#include <map>
#include <string>

#include "core/status.h"
#include "models/graph/graph_net.h"
#include "models/net/unet.h"

namespace tessera::models {

struct UNetMatch {
  UNetConfig config;
  // Every parameter of unetLayers(config) by name, kNCHW. A convolution
  // exported with batch norm folded into it (PyTorch's eval-mode export)
  // gets an identity batch norm carrying the convolution's bias.
  std::map<std::string, Tensor> parameters;
};

Result<UNetMatch> matchTesseraUNet(const GraphNet& net);

}  // namespace tessera::models
