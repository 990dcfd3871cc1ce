#include "models/graph/graph_net.h"

#include <algorithm>
#include <cassert>

namespace tessera::models {

const char* graphOpName(GraphOp op) {
  switch (op) {
    case GraphOp::kConv:
      return "Conv";
    case GraphOp::kConvTranspose:
      return "ConvTranspose";
    case GraphOp::kBatchNorm:
      return "BatchNormalization";
    case GraphOp::kInstanceNorm:
      return "InstanceNormalization";
    case GraphOp::kRelu:
      return "Relu";
    case GraphOp::kLeakyRelu:
      return "LeakyRelu";
    case GraphOp::kPrelu:
      return "PRelu";
    case GraphOp::kMaxPool:
      return "MaxPool";
    case GraphOp::kResize:
      return "Resize";
    case GraphOp::kConcat:
      return "Concat";
    case GraphOp::kAdd:
      return "Add";
    case GraphOp::kSoftmax:
      return "Softmax";
  }
  return "?";
}

std::int64_t GraphNet::sizeMultiple() const {
  // Down-sampling of each value as a fraction num/den of the input.
  std::vector<double> factor(static_cast<std::size_t>(valueCount), 1.0);
  double largest = 1.0;
  for (const GraphNode& n : nodes) {
    double f = n.inputs.empty() ? 1.0 : factor[n.inputs[0]];
    if (n.op == GraphOp::kConv) f *= n.stride;
    if (n.op == GraphOp::kMaxPool) f *= 2;
    if (n.op == GraphOp::kConvTranspose) f /= n.transpose.stride;
    if (n.op == GraphOp::kResize) f /= n.resize.scaleH;
    factor[n.output] = f;
    largest = std::max(largest, f);
  }
  return static_cast<std::int64_t>(largest + 0.5);
}

Result<Shape> GraphNet::checkShapes(std::int64_t height, std::int64_t width) const {
  std::vector<Shape> shape(static_cast<std::size_t>(valueCount));
  std::vector<bool> known(static_cast<std::size_t>(valueCount), false);
  shape[0] = {1, inputChannels, height, width};
  known[0] = true;
  for (const GraphNode& n : nodes) {
    auto fail = [&](const std::string& why) -> Error {
      return Error{StatusCode::kUnsupported,
                   "node " + n.name + " (" + graphOpName(n.op) + "): " + why};
    };
    for (int v : n.inputs)
      if (v < 0 || v >= valueCount || !known[v]) return fail("an input is not computed before it");
    if (n.inputs.empty()) return fail("no input");
    const Shape x = shape[n.inputs[0]];
    Shape y = x;
    switch (n.op) {
      case GraphOp::kConv: {
        const Shape w = n.weights[0].shape();
        if (w.c != x.c)
          return fail("expects " + std::to_string(w.c) + " input channels, gets " +
                      std::to_string(x.c));
        y = {1, w.n, (x.h + 2 * n.pad - w.h) / n.stride + 1,
             (x.w + 2 * n.pad - w.w) / n.stride + 1};
        break;
      }
      case GraphOp::kConvTranspose: {
        const Shape w = n.weights[0].shape();
        const ConvTransposeParams& p = n.transpose;
        if (w.n != x.c)
          return fail("expects " + std::to_string(w.n) + " input channels, gets " +
                      std::to_string(x.c));
        y = {1, w.c, (x.h - 1) * p.stride - 2 * p.pad + p.kernel + p.outputPad,
             (x.w - 1) * p.stride - 2 * p.pad + p.kernel + p.outputPad};
        break;
      }
      case GraphOp::kBatchNorm:
      case GraphOp::kInstanceNorm:
      case GraphOp::kPrelu:
        if (n.weights[0].c() != x.c)
          return fail("has parameters for " + std::to_string(n.weights[0].c()) +
                      " channels, gets " + std::to_string(x.c));
        break;
      case GraphOp::kMaxPool:
        if (x.h % 2 || x.w % 2) return fail("pools an odd-sized map");
        y = {1, x.c, x.h / 2, x.w / 2};
        break;
      case GraphOp::kResize:
        y = {1, x.c, x.h * n.resize.scaleH, x.w * n.resize.scaleW};
        break;
      case GraphOp::kConcat:
        for (std::size_t i = 1; i < n.inputs.size(); ++i) {
          const Shape& z = shape[n.inputs[i]];
          if (z.h != x.h || z.w != x.w) return fail("joins maps of " + x.str() + " and " + z.str());
          y.c += z.c;
        }
        break;
      case GraphOp::kAdd:
        if (n.inputs.size() != 2 || !(shape[n.inputs[1]] == x))
          return fail("adds tensors of different shapes (broadcasting is not supported)");
        break;
      default:
        break;
    }
    if (y.h <= 0 || y.w <= 0) return fail("the map becomes empty");
    shape[n.output] = y;
    known[n.output] = true;
  }
  if (!known[output]) return Error{StatusCode::kUnsupported, "the graph output is never computed"};
  const Shape out = shape[output];
  if (out.h != height || out.w != width)
    return Error{StatusCode::kUnsupported,
                 "the network's output is " + std::to_string(out.h) + "×" + std::to_string(out.w) +
                     " for a " + std::to_string(height) + "×" + std::to_string(width) +
                     " input; a segmentation network's output has the input's size"};
  return out;
}

double GraphNet::forwardFlops(std::int64_t height, std::int64_t width) const {
  std::vector<Shape> shape(static_cast<std::size_t>(valueCount));
  shape[0] = {1, inputChannels, height, width};
  double flops = 0;
  for (const GraphNode& n : nodes) {
    const Shape x = shape[n.inputs[0]];
    Shape y = x;
    if (n.op == GraphOp::kConv) {
      const Shape w = n.weights[0].shape();
      y = {1, w.n, (x.h + 2 * n.pad - w.h) / n.stride + 1, (x.w + 2 * n.pad - w.w) / n.stride + 1};
      flops += 2.0 * w.n * w.c * w.h * w.w * y.h * y.w;
    } else if (n.op == GraphOp::kConvTranspose) {
      const Shape w = n.weights[0].shape();
      const ConvTransposeParams& p = n.transpose;
      y = {1, w.c, (x.h - 1) * p.stride - 2 * p.pad + p.kernel + p.outputPad,
           (x.w - 1) * p.stride - 2 * p.pad + p.kernel + p.outputPad};
      flops += 2.0 * w.n * w.c * w.h * w.w * x.h * x.w;
    } else if (n.op == GraphOp::kMaxPool) {
      y = {1, x.c, x.h / 2, x.w / 2};
    } else if (n.op == GraphOp::kResize) {
      y = {1, x.c, x.h * n.resize.scaleH, x.w * n.resize.scaleW};
    } else if (n.op == GraphOp::kConcat) {
      for (std::size_t i = 1; i < n.inputs.size(); ++i) y.c += shape[n.inputs[i]].c;
    }
    shape[n.output] = y;
  }
  return flops;
}

Tensor GraphNet::forward(Backend& backend, const Tensor& input) const {
  // Each value is released after its last use, so memory stays near the
  // widest cut of the graph rather than the sum of every activation.
  std::vector<int> lastUse(static_cast<std::size_t>(valueCount), -1);
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (int v : nodes[i].inputs) lastUse[v] = static_cast<int>(i);
  std::vector<Tensor> values(static_cast<std::size_t>(valueCount));
  values[0] = backend.fromNCHW(input);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const GraphNode& n = nodes[i];
    const Tensor& x = values[n.inputs[0]];
    const Tensor* bias = n.weights.size() > 1 ? &n.weights[1] : nullptr;
    Tensor y;
    switch (n.op) {
      case GraphOp::kConv:
        y = backend.conv2d(x, n.weights[0], bias, n.stride, n.pad);
        break;
      case GraphOp::kConvTranspose:
        y = backend.convTranspose(x, n.weights[0], bias, n.transpose);
        break;
      case GraphOp::kBatchNorm:
        y = backend.batchNormApply(x, n.weights[0], n.weights[1], n.batchNorm);
        break;
      case GraphOp::kInstanceNorm:
        y = backend.instanceNorm(x, n.weights[0], n.weights[1], n.eps);
        break;
      case GraphOp::kRelu:
        y = backend.relu(x);
        break;
      case GraphOp::kLeakyRelu:
        y = backend.leakyRelu(x, n.alpha);
        break;
      case GraphOp::kPrelu:
        y = backend.prelu(x, n.weights[0]);
        break;
      case GraphOp::kMaxPool:
        y = backend.maxPool2x2(x);
        break;
      case GraphOp::kResize:
        y = backend.resize(x, n.resize);
        break;
      case GraphOp::kConcat:
        y = x;
        for (std::size_t k = 1; k < n.inputs.size(); ++k)
          y = backend.concat(y, values[n.inputs[k]]);
        break;
      case GraphOp::kAdd:
        y = backend.add(x, values[n.inputs[1]]);
        break;
      case GraphOp::kSoftmax:
        y = backend.softmax(x);
        break;
    }
    values[n.output] = y;
    for (int v : n.inputs)
      if (lastUse[v] == static_cast<int>(i) && v != output) values[v] = Tensor();
  }
  return backend.toNCHW(values[output]);
}

}  // namespace tessera::models
