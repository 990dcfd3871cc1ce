// A network imported from another framework (a 2D segmentation network that
// PyTorch exported to ONNX: MONAI's BasicUNet or UNet, nnU-Net's
// PlainConvUNet, a lab's own): its nodes in topological order over numbered
// values, run densely on a Backend (models/backend), one whole slice at a
// time. Built from an ONNX file by models/io (import_model.h); toolkit-free.
//
// Values: 0 is the input (1, inputChannels, H, W); node i writes value
// nodes[i].output; `output` is the network's logits (1, classes, H, W).
// Weights are kNCHW and owned by the node.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/backend/backend.h"

namespace tessera::models {

enum class GraphOp {
  kConv,           // weights {w (Cout, Cin, K, K), optional bias (1, Cout, 1, 1)}; stride, pad
  kConvTranspose,  // weights {w (Cin, Cout, K, K), optional bias}; transpose
  kBatchNorm,      // weights {gamma, beta}; batchNorm holds the running statistics as mean/invStd
  kInstanceNorm,   // weights {gamma, beta}; eps
  kRelu,
  kLeakyRelu,  // alpha
  kPrelu,      // weights {slope (1, C, 1, 1)}
  kMaxPool,    // 2×2, stride 2
  kResize,     // resize
  kConcat,     // two or more inputs, along channels
  kAdd,        // two inputs of one shape
  kSoftmax,    // over channels
};
const char* graphOpName(GraphOp op);

struct GraphNode {
  GraphOp op = GraphOp::kRelu;
  std::string name;  // the ONNX node's name or, without one, its operator and output
  std::vector<int> inputs;
  int output = 0;
  int stride = 1, pad = 0;
  ConvTransposeParams transpose;
  ResizeParams resize;
  float alpha = 0.01f;
  float eps = 1e-5f;
  BatchNormState batchNorm;
  std::vector<Tensor> weights;
};

class GraphNet {
 public:
  int inputChannels = 0;
  int classes = 0;
  std::vector<GraphNode> nodes;
  int valueCount = 1;
  int output = 0;

  // The factor H and W must be multiples of: the largest down-sampling of
  // any value relative to the input (2 per max pooling or stride-2 conv).
  std::int64_t sizeMultiple() const;
  // Checks every node's inputs and weights against the shapes flowing from
  // an input of height × width (multiples of sizeMultiple()) and returns
  // the output's shape; the error names the node.
  Result<Shape> checkShapes(std::int64_t height, std::int64_t width) const;
  // Multiply-adds ×2 of the convolutions for one height × width slice.
  double forwardFlops(std::int64_t height, std::int64_t width) const;
  // input (1, inputChannels, H, W) kNCHW → logits (1, classes, H, W) kNCHW.
  // Shapes must have passed checkShapes for this size.
  Tensor forward(Backend& backend, const Tensor& input) const;
};

}  // namespace tessera::models
