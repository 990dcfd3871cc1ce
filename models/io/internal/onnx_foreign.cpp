// Maps the ONNX operators PyTorch's exporter writes for 2D segmentation
// networks onto GraphOps. PyTorch folds batch norm into a preceding
// convolution when exporting in eval mode, drops Dropout, and writes
// constants as initializers or Constant nodes; all three are handled here.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "models/io/internal/onnx_graph.h"

namespace tessera::models::onnx_io {
namespace {

std::string label(const onnx::NodeProto& n) {
  return n.name().empty() ? n.op_type() + " → " + (n.output_size() ? n.output(0) : "?") : n.name();
}

const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const char* name) {
  for (const onnx::AttributeProto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
std::vector<std::int64_t> ints(const onnx::NodeProto& n, const char* name,
                               std::vector<std::int64_t> fallback = {}) {
  const onnx::AttributeProto* a = attribute(n, name);
  return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : fallback;
}
std::int64_t intAttr(const onnx::NodeProto& n, const char* name, std::int64_t fallback) {
  const onnx::AttributeProto* a = attribute(n, name);
  return a ? a->i() : fallback;
}
float floatAttr(const onnx::NodeProto& n, const char* name, float fallback) {
  const onnx::AttributeProto* a = attribute(n, name);
  return a ? a->f() : fallback;
}
std::string stringAttr(const onnx::NodeProto& n, const char* name, const char* fallback) {
  const onnx::AttributeProto* a = attribute(n, name);
  return a ? a->s() : fallback;
}

bool allEqual(const std::vector<std::int64_t>& v, std::int64_t x) {
  for (std::int64_t e : v)
    if (e != x) return false;
  return true;
}

const std::set<std::string> kSupported{"Conv",
                                       "ConvTranspose",
                                       "BatchNormalization",
                                       "InstanceNormalization",
                                       "Relu",
                                       "LeakyRelu",
                                       "PRelu",
                                       "MaxPool",
                                       "Resize",
                                       "Concat",
                                       "Add",
                                       "Softmax",
                                       "Identity",
                                       "Dropout",
                                       "Constant"};

class Converter {
 public:
  explicit Converter(const onnx::GraphProto& g) : graph_(g), constants_(graphConstants(g)) {}

  Result<GraphNet> run() {
    TESSERA_RETURN_IF_ERROR(checkNoExternalData(graph_));
    TESSERA_RETURN_IF_ERROR(listUnsupported());
    TESSERA_RETURN_IF_ERROR(readInput());
    for (const onnx::NodeProto& n : graph_.node()) TESSERA_RETURN_IF_ERROR(convert(n));
    if (graph_.output_size() != 1)
      return Error{StatusCode::kUnsupported,
                   "the graph has " + std::to_string(graph_.output_size()) +
                       " outputs; a segmentation network has one (the logits)"};
    auto out = ids_.find(graph_.output(0).name());
    if (out == ids_.end())
      return Error{StatusCode::kUnsupported, "the graph output is not computed from the input"};
    net_.output = out->second;
    net_.classes = static_cast<int>(channels_[net_.output]);
    return std::move(net_);
  }

 private:
  Status listUnsupported() const {
    std::map<std::string, std::string> unsupported;  // op type → first node
    for (const onnx::NodeProto& n : graph_.node())
      if ((!n.domain().empty() && n.domain() != "ai.onnx") || !kSupported.count(n.op_type()))
        unsupported.emplace(n.op_type(), label(n));
    if (unsupported.empty()) return Status();
    std::string text;
    for (const auto& [op, node] : unsupported)
      text += (text.empty() ? "" : ", ") + op + " (node " + node + ")";
    bool dynamic = unsupported.count("Shape") || unsupported.count("Gather") ||
                   unsupported.count("Reshape") || unsupported.count("Slice");
    return Status(
        StatusCode::kUnsupported,
        "the graph uses operators Tessera does not run: " + text +
            (dynamic ? "; shape arithmetic (Shape, Gather, Slice...) comes from exporting "
                       "with dynamic sizes or size-based up-sampling: export with fixed "
                       "sizes and scale_factor instead"
                     : ""));
  }

  Status readInput() {
    const onnx::ValueInfoProto* input = nullptr;
    int count = 0;
    for (const onnx::ValueInfoProto& v : graph_.input())
      if (!constants_.count(v.name())) {
        input = &v;
        ++count;
      }
    if (count != 1)
      return Status(StatusCode::kUnsupported,
                    "the graph has " + std::to_string(count) +
                        " inputs; a segmentation network has one (the image)");
    const onnx::TypeProto& type = input->type();
    if (!type.has_tensor_type() || type.tensor_type().elem_type() != onnx::TensorProto::FLOAT)
      return Status(StatusCode::kUnsupported, "the graph input must be a float32 tensor");
    const auto& dims = type.tensor_type().shape().dim();
    if (dims.size() != 4)
      return Status(StatusCode::kUnsupported, "the graph input has " + std::to_string(dims.size()) +
                                                  " dimensions; a 2D network takes (N, C, H, W)");
    if (dims[0].has_dim_value() && dims[0].dim_value() != 1)
      return Status(StatusCode::kUnsupported, "the graph input's batch size is fixed at " +
                                                  std::to_string(dims[0].dim_value()) +
                                                  "; export with batch 1 (or a dynamic batch)");
    if (!dims[1].has_dim_value() || dims[1].dim_value() < 1 || dims[1].dim_value() > 64)
      return Status(StatusCode::kUnsupported,
                    "the graph input's channel count must be fixed (1..64 slices)");
    net_.inputChannels = static_cast<int>(dims[1].dim_value());
    ids_[input->name()] = 0;
    channels_.push_back(net_.inputChannels);
    return Status();
  }

  Result<int> value(const onnx::NodeProto& n, int index) const {
    if (index >= n.input_size() || n.input(index).empty())
      return Error{StatusCode::kUnsupported,
                   "node " + label(n) + " lacks input " + std::to_string(index)};
    auto it = ids_.find(n.input(index));
    if (it == ids_.end())
      return Error{StatusCode::kUnsupported,
                   "node " + label(n) + " (" + n.op_type() + "): input '" + n.input(index) +
                       "' is a constant or unknown where Tessera expects a feature map"};
    return it->second;
  }

  Result<Tensor> constant(const onnx::NodeProto& n, int index, Shape shape) const {
    if (index >= n.input_size() || !constants_.count(n.input(index)))
      return Error{StatusCode::kUnsupported, "node " + label(n) + " (" + n.op_type() + "): input " +
                                                 std::to_string(index) + " must be a constant"};
    const onnx::TensorProto& t = *constants_.at(n.input(index));
    TESSERA_ASSIGN_OR_RETURN(std::vector<float> v, floatValues(t, n.input(index)));
    if (static_cast<std::int64_t>(v.size()) != shape.count())
      return Error{StatusCode::kUnsupported, "node " + label(n) + ": constant '" + n.input(index) +
                                                 "' has " + std::to_string(v.size()) +
                                                 " values, expected " +
                                                 std::to_string(shape.count())};
    Tensor out = Tensor::empty(shape);
    std::copy(v.begin(), v.end(), out.data());
    return out;
  }

  Shape dimsOf(const onnx::NodeProto& n, int index) const {
    if (index >= n.input_size() || !constants_.count(n.input(index))) return {};
    const onnx::TensorProto& t = *constants_.at(n.input(index));
    Shape s{1, 1, 1, 1};
    std::int64_t* out[4] = {&s.n, &s.c, &s.h, &s.w};
    if (t.dims_size() > 4) return {};
    // A crafted file may hold any dims: each must be positive and small
    // enough that the product cannot overflow (the values must also be
    // present, which floatValues checks).
    for (int i = 0; i < t.dims_size(); ++i) {
      if (t.dims(i) <= 0 || t.dims(i) > (1 << 20)) return {};
      *out[4 - t.dims_size() + i] = t.dims(i);
    }
    return s;
  }

  void emit(GraphNode node, const onnx::NodeProto& n, std::int64_t outChannels) {
    node.name = label(n);
    node.output = net_.valueCount++;
    ids_[n.output(0)] = node.output;
    channels_.push_back(outChannels);
    net_.nodes.push_back(std::move(node));
  }

  Status convert(const onnx::NodeProto& n) {
    const std::string& op = n.op_type();
    auto fail = [&](const std::string& why) {
      return Status(StatusCode::kUnsupported, "node " + label(n) + " (" + op + "): " + why);
    };
    if (op == "Constant") return Status();
    if (op == "Identity" || op == "Dropout") {
      if (constants_.count(n.input(0))) return Status();
      TESSERA_ASSIGN_OR_RETURN(const int x, value(n, 0));
      ids_[n.output(0)] = x;
      return Status();
    }
    GraphNode node;
    TESSERA_ASSIGN_OR_RETURN(const int x, value(n, 0));
    node.inputs.push_back(x);
    const std::int64_t c = channels_[x];
    if (op == "Conv" || op == "ConvTranspose") {
      const Shape w = dimsOf(n, 1);
      if (w.count() == 0) return fail("the weights must be a constant 4D tensor");
      const std::int64_t k = w.h;
      if (w.h != w.w) return fail("only square kernels are supported");
      if (intAttr(n, "group", 1) != 1) return fail("grouped convolutions are not supported");
      if (!allEqual(ints(n, "dilations", {1, 1}), 1)) return fail("dilation is not supported");
      if (stringAttr(n, "auto_pad", "NOTSET") != "NOTSET")
        return fail("auto_pad is not supported; export with explicit padding");
      const std::vector<std::int64_t> strides = ints(n, "strides", {1, 1});
      const std::vector<std::int64_t> pads = ints(n, "pads", {0, 0, 0, 0});
      if (strides.size() != 2 || strides[0] != strides[1] || strides[0] < 1)
        return fail("strides must be equal in both directions");
      if (pads.size() != 4 || !allEqual(pads, pads[0]))
        return fail("padding must be the same on every side");
      const bool transposed = op == "ConvTranspose";
      const std::int64_t cin = transposed ? w.n : w.c, cout = transposed ? w.c : w.n;
      if (cin != c)
        return fail("its weights expect " + std::to_string(cin) +
                    " input channels, the input has " + std::to_string(c));
      TESSERA_ASSIGN_OR_RETURN(Tensor weight, constant(n, 1, w));
      node.weights.push_back(weight);
      if (n.input_size() > 2 && !n.input(2).empty()) {
        TESSERA_ASSIGN_OR_RETURN(Tensor bias, constant(n, 2, {1, cout, 1, 1}));
        node.weights.push_back(bias);
      }
      if (!transposed) {
        node.op = GraphOp::kConv;
        node.stride = static_cast<int>(strides[0]);
        node.pad = static_cast<int>(pads[0]);
      } else {
        if (attribute(n, "output_shape")) return fail("output_shape is not supported");
        const std::vector<std::int64_t> extra = ints(n, "output_padding", {0, 0});
        if (extra.size() != 2 || extra[0] != extra[1]) return fail("output padding must be equal");
        if (extra[0] > pads[0])
          return fail("output padding larger than the padding is not supported");
        node.op = GraphOp::kConvTranspose;
        node.transpose = {static_cast<int>(k), static_cast<int>(strides[0]),
                          static_cast<int>(pads[0]), static_cast<int>(extra[0])};
      }
      emit(std::move(node), n, cout);
      return Status();
    }
    if (op == "BatchNormalization" || op == "InstanceNormalization") {
      const bool batch = op == "BatchNormalization";
      if (batch && intAttr(n, "training_mode", 0) != 0)
        return fail("exported in training mode; export the network in eval mode");
      TESSERA_ASSIGN_OR_RETURN(Tensor gamma, constant(n, 1, {1, c, 1, 1}));
      TESSERA_ASSIGN_OR_RETURN(Tensor beta, constant(n, 2, {1, c, 1, 1}));
      node.weights = {gamma, beta};
      node.eps = floatAttr(n, "epsilon", 1e-5f);
      if (batch) {
        TESSERA_ASSIGN_OR_RETURN(Tensor mean, constant(n, 3, {1, c, 1, 1}));
        TESSERA_ASSIGN_OR_RETURN(Tensor var, constant(n, 4, {1, c, 1, 1}));
        node.op = GraphOp::kBatchNorm;
        for (std::int64_t i = 0; i < c; ++i) {
          node.batchNorm.mean.push_back(mean.data()[i]);
          node.batchNorm.invStd.push_back(
              static_cast<float>(1.0 / std::sqrt(double(var.data()[i]) + node.eps)));
        }
      } else {
        node.op = GraphOp::kInstanceNorm;
      }
      emit(std::move(node), n, c);
      return Status();
    }
    if (op == "Relu" || op == "LeakyRelu" || op == "Softmax") {
      node.op = op == "Relu"        ? GraphOp::kRelu
                : op == "LeakyRelu" ? GraphOp::kLeakyRelu
                                    : GraphOp::kSoftmax;
      node.alpha = floatAttr(n, "alpha", 0.01f);
      if (op == "Softmax") {
        const std::int64_t axis = intAttr(n, "axis", -1);
        if (axis != 1 && axis != -3)
          return fail("only a softmax over the channels (axis 1) is supported");
      }
      emit(std::move(node), n, c);
      return Status();
    }
    if (op == "PRelu") {
      const Shape s = dimsOf(n, 1);
      if (s.count() != 1 && s.count() != c)
        return fail("the slope must have one value or one per channel");
      TESSERA_ASSIGN_OR_RETURN(Tensor slope, constant(n, 1, s));
      Tensor perChannel = Tensor::empty({1, c, 1, 1});
      for (std::int64_t i = 0; i < c; ++i)
        perChannel.data()[i] = slope.data()[s.count() == 1 ? 0 : i];
      node.op = GraphOp::kPrelu;
      node.weights.push_back(perChannel);
      emit(std::move(node), n, c);
      return Status();
    }
    if (op == "MaxPool") {
      if (ints(n, "kernel_shape") != std::vector<std::int64_t>{2, 2} ||
          ints(n, "strides", {1, 1}) != std::vector<std::int64_t>{2, 2} ||
          !allEqual(ints(n, "pads", {0, 0, 0, 0}), 0) || intAttr(n, "ceil_mode", 0) != 0 ||
          !allEqual(ints(n, "dilations", {1, 1}), 1))
        return fail("only 2×2 max pooling with stride 2 and no padding is supported");
      if (n.output_size() > 1 && !n.output(1).empty())
        return fail("pooling indices are not supported");
      node.op = GraphOp::kMaxPool;
      emit(std::move(node), n, c);
      return Status();
    }
    if (op == "Resize") {
      if (n.input_size() > 3 && !n.input(3).empty())
        return fail("up-sampling to fixed sizes is not supported; export with scale_factor");
      const Shape s = dimsOf(n, 2);
      if (s.count() != 4) return fail("the scales must be a constant of 4 values");
      TESSERA_ASSIGN_OR_RETURN(Tensor scales, constant(n, 2, s));
      const float* f = scales.data();
      if (f[0] != 1.0f || f[1] != 1.0f || f[2] < 1.0f || f[3] < 1.0f || f[2] != std::floor(f[2]) ||
          f[3] != std::floor(f[3]) || f[2] > 64 || f[3] > 64)
        return fail("only up-sampling of H and W by whole factors is supported");
      node.resize.scaleH = static_cast<int>(f[2]);
      node.resize.scaleW = static_cast<int>(f[3]);
      const std::string mode = stringAttr(n, "mode", "nearest");
      const std::string transform = stringAttr(n, "coordinate_transformation_mode", "half_pixel");
      if (mode == "nearest") {
        if (transform == "align_corners" || transform == "tf_crop_and_resize")
          return fail("nearest up-sampling with " + transform + " coordinates is not supported");
        const std::string rounding = stringAttr(n, "nearest_mode", "round_prefer_floor");
        if (rounding == "ceil" || (transform == "asymmetric" && rounding != "floor"))
          return fail("nearest up-sampling with rounding '" + rounding + "' is not supported");
        node.resize.mode = ResizeMode::kNearest;
      } else if (mode == "linear") {
        if (transform == "half_pixel" || transform == "pytorch_half_pixel")
          node.resize.mode = ResizeMode::kLinear;
        else if (transform == "align_corners")
          node.resize.mode = ResizeMode::kLinearAlignCorners;
        else
          return fail("linear up-sampling with " + transform + " coordinates is not supported");
      } else {
        return fail("resize mode '" + mode + "' is not supported (nearest and linear are)");
      }
      node.op = GraphOp::kResize;
      emit(std::move(node), n, c);
      return Status();
    }
    if (op == "Concat") {
      const std::int64_t axis = intAttr(n, "axis", 1);
      if (axis != 1 && axis != -3) return fail("only concatenation along channels is supported");
      std::int64_t total = c;
      for (int i = 1; i < n.input_size(); ++i) {
        TESSERA_ASSIGN_OR_RETURN(const int v, value(n, i));
        node.inputs.push_back(v);
        total += channels_[v];
      }
      node.op = GraphOp::kConcat;
      emit(std::move(node), n, total);
      return Status();
    }
    if (op == "Add") {
      TESSERA_ASSIGN_OR_RETURN(const int v, value(n, 1));
      if (channels_[v] != c) return fail("adds maps of different channel counts");
      node.inputs.push_back(v);
      node.op = GraphOp::kAdd;
      emit(std::move(node), n, c);
      return Status();
    }
    return fail("not supported");
  }

  const onnx::GraphProto& graph_;
  std::map<std::string, const onnx::TensorProto*> constants_;
  std::map<std::string, int> ids_;
  std::vector<std::int64_t> channels_;
  GraphNet net_;
};

}  // namespace

Result<GraphNet> graphNetFromOnnx(const onnx::GraphProto& graph) {
  return Converter(graph).run();
}

}  // namespace tessera::models::onnx_io
