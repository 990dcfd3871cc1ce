#include "models/io/internal/onnx_graph.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "models/net/unet_layers.h"
#include "tessera/plugin.h"

namespace tessera::models::onnx_io {
namespace {

using Dims = std::vector<std::int64_t>;

std::string floatText(float value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string dimsText(const Dims& dims) {
  std::string text = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

std::string nodeLabel(const onnx::NodeProto& node, int index) {
  if (!node.name().empty()) return node.name();
  if (node.output_size() > 0 && !node.output(0).empty()) return node.output(0);
  return "#" + std::to_string(index);
}

// ---------------------------------------------------------------- building

class Builder {
 public:
  Builder(const UNetConfig& config, const GraphOptions& options, const ParameterSet* params,
          onnx::GraphProto* graph)
      : config_(config), options_(options), params_(params), graph_(graph) {}

  void build() {
    graph_->set_name("tessera_unet");
    const std::int64_t height = options_.height, width = options_.width;
    valueInfo(graph_->add_input(), kInputName, {1, config_.inputChannels, height, width});

    const std::vector<Layer> layers = unetLayers(config_);
    std::vector<std::string> outputs(layers.size());  // tensor name per layer
    std::vector<std::string> heads(config_.levels);
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const Layer& layer = layers[i];
      const std::string x = layer.inputs[0] < 0 ? kInputName : outputs[layer.inputs[0]];
      auto param = [&](int k) -> const std::string& { return layer.parameters[k].name; };
      const std::int64_t cin = layer.inChannels, cout = layer.outChannels;
      switch (layer.kind) {
        case LayerKind::kConvBnRelu:
          outputs[i] = convBnRelu(x, layer, cin, cout);
          break;
        case LayerKind::kMaxPool: {
          onnx::NodeProto* pool = node("MaxPool", layer.name, {x}, layer.name);
          ints(pool, "kernel_shape", {2, 2});
          ints(pool, "strides", {2, 2});
          outputs[i] = layer.name;
          break;
        }
        case LayerKind::kAttention:
          outputs[i] = attention(x, layer, cout, height >> layer.level, width >> layer.level);
          break;
        case LayerKind::kConvTranspose: {
          parameter(param(0), {cin, cout, 2, 2});
          parameter(param(1), {cout});
          onnx::NodeProto* up =
              node("ConvTranspose", layer.name, {x, param(0), param(1)}, layer.name);
          ints(up, "kernel_shape", {2, 2});
          ints(up, "strides", {2, 2});
          outputs[i] = layer.name;
          break;
        }
        case LayerKind::kConcat:
          integer(node("Concat", layer.name, {x, outputs[layer.inputs[1]]}, layer.name), "axis", 1);
          outputs[i] = layer.name;
          break;
        case LayerKind::kPlugin: {
          std::vector<std::string> inputs{x};
          for (const LayerParameter& p : layer.parameters) {
            parameter(p.name, {p.shape.n, p.shape.c, p.shape.h, p.shape.w});
            inputs.push_back(p.name);
          }
          node(layer.plugin ? layer.plugin->name : "?", layer.name, inputs, layer.name)
              ->set_domain(kPluginDomain);
          outputs[i] = layer.name;
          break;
        }
        case LayerKind::kHead: {
          const int l = layer.level;
          if (l != 0 && !options_.trainingHeads) break;
          heads[l] = l == 0 ? std::string(kOutputName)
                            : std::string(kOutputName) + "_" + std::to_string(l);
          parameter(param(0), {cout, cin, 1, 1});
          parameter(param(1), {cout});
          conv(x, layer.name, heads[l], param(0), param(1), 1, 0);
          outputs[i] = heads[l];
          break;
        }
      }
    }
    for (int l = 0; l < config_.levels; ++l)
      if (!heads[l].empty())
        valueInfo(graph_->add_output(), heads[l], {1, config_.classes, height >> l, width >> l});
  }

 private:
  onnx::NodeProto* node(const char* op, const std::string& name,
                        const std::vector<std::string>& inputs, const std::string& output) {
    onnx::NodeProto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const std::string& in : inputs) n->add_input(in);
    n->add_output(output);
    return n;
  }
  static void ints(onnx::NodeProto* n, const char* name, const Dims& values) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (std::int64_t v : values) a->add_ints(v);
  }
  static void integer(onnx::NodeProto* n, const char* name, std::int64_t value) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  static void real(onnx::NodeProto* n, const char* name, float value) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(value);
  }
  static void valueInfo(onnx::ValueInfoProto* info, const std::string& name, const Dims& dims) {
    info->set_name(name);
    onnx::TypeProto_Tensor* type = info->mutable_type()->mutable_tensor_type();
    type->set_elem_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) type->mutable_shape()->add_dim()->set_dim_value(d);
  }

  // A parameter's values in ONNX order (row-major over the ONNX dims, which
  // is Tessera's kNCHW order; (1, C, 1, 1) vectors become [C]).
  std::vector<float> values(const std::string& name, const Dims& dims) const {
    const Parameter* p = params_->find(name);
    std::int64_t count = 1;
    for (std::int64_t d : dims) count *= d;
    assert(p && p->value.shape().count() == count && "model and graph disagree");
    (void)count;
    return std::vector<float>(p->value.data(), p->value.data() + p->value.shape().count());
  }

  void initializer(const std::string& name, const Dims& dims, const std::vector<float>* data) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) t->add_dims(d);
    if (data)
      t->set_raw_data(std::string(reinterpret_cast<const char*>(data->data()), data->size() * 4));
  }

  void parameter(const std::string& name, const Dims& dims) {
    if (!params_) return initializer(name, dims, nullptr);
    const std::vector<float> v = values(name, dims);
    initializer(name, dims, &v);
  }

  void int64Constant(const std::string& name, const Dims& values) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(values.size()));
    for (std::int64_t v : values) t->add_int64_data(v);
  }

  void conv(const std::string& x, const std::string& name, const std::string& output,
            const std::string& weight, const std::string& bias, int kernel, int pad) {
    std::vector<std::string> inputs{x, weight};
    if (!bias.empty()) inputs.push_back(bias);
    onnx::NodeProto* n = node("Conv", name, inputs, output);
    ints(n, "kernel_shape", {kernel, kernel});
    ints(n, "pads", {pad, pad, pad, pad});
    ints(n, "strides", {1, 1});
  }

  // Node and tensor names: block.conv{i}, block.bn{i}, block.relu{i}; the
  // folded form gives the conv a bias "block.conv{i}.bias".
  std::string convBnRelu(const std::string& x, const Layer& layer, std::int64_t cin,
                         std::int64_t cout) {
    const std::string i = std::to_string(layer.index);
    const std::string convName = layer.name, bn = layer.block + ".bn" + i;
    const std::string& weight = layer.parameters[0].name;
    const std::string& gammaName = layer.parameters[1].name;
    const std::string& betaName = layer.parameters[2].name;
    const std::string& meanName = layer.parameters[3].name;
    const std::string& varName = layer.parameters[4].name;
    std::string y = convName;
    if (!options_.foldBatchNorm) {
      parameter(weight, {cout, cin, 3, 3});
      conv(x, convName, convName, weight, "", 3, 1);
      for (const std::string* name : {&gammaName, &betaName, &meanName, &varName})
        parameter(*name, {cout});
      onnx::NodeProto* n =
          node("BatchNormalization", bn, {convName, gammaName, betaName, meanName, varName}, bn);
      real(n, "epsilon", config_.bnEps);
      real(n, "momentum", 1.0f - config_.bnMomentum);  // ONNX weights the old value
      y = bn;
    } else {
      // w' = w·γ/sqrt(var + eps) per output channel, b' = β − mean·γ/sqrt(var + eps).
      std::vector<float> w, b;
      if (params_) {
        w = values(weight, {cout, cin, 3, 3});
        const std::vector<float> gamma = values(gammaName, {cout});
        const std::vector<float> beta = values(betaName, {cout});
        const std::vector<float> mean = values(meanName, {cout});
        const std::vector<float> var = values(varName, {cout});
        b.resize(static_cast<std::size_t>(cout));
        const std::size_t perChannel = w.size() / b.size();
        for (std::size_t o = 0; o < b.size(); ++o) {
          const double factor = gamma[o] / std::sqrt(double(var[o]) + config_.bnEps);
          for (std::size_t k = 0; k < perChannel; ++k)
            w[o * perChannel + k] = static_cast<float>(w[o * perChannel + k] * factor);
          b[o] = static_cast<float>(beta[o] - mean[o] * factor);
        }
      }
      initializer(weight, {cout, cin, 3, 3}, params_ ? &w : nullptr);
      initializer(convName + ".bias", {cout}, params_ ? &b : nullptr);
      conv(x, convName, convName, weight, convName + ".bias", 3, 1);
    }
    const std::string relu = layer.block + ".relu" + i;
    node("Relu", relu, {y}, relu);
    return relu;
  }

  // The form OpenCV's importer runs: separate q/k/v convs, constant-shape
  // reshapes to (heads, d, T), no Shape/Gather/Pow.
  // Parameters in the layer's order q, k, v, o (weight, bias each); nodes
  // named after the projection ("att.q"), the rest "att.<step>".
  std::string attention(const std::string& x, const Layer& layer, std::int64_t c, std::int64_t h,
                        std::int64_t w) {
    const std::int64_t heads = config_.attentionHeads, d = c / heads, t = h * w;
    const double scale = attentionQueryScale(config_);
    auto projection = [&](int m) {
      const std::string& weight = layer.parameters[2 * m].name;
      return weight.substr(0, weight.size() - std::string_view(".weight").size());
    };
    for (int m = 0; m < 3; ++m) {
      const std::string name = projection(m);
      const std::string& weight = layer.parameters[2 * m].name;
      const std::string& bias = layer.parameters[2 * m + 1].name;
      if (params_ && m == 0) {
        std::vector<float> wq = values(weight, {c, c, 1, 1});
        std::vector<float> bq = values(bias, {c});
        for (float& v : wq) v = static_cast<float>(double(v) * scale);
        for (float& v : bq) v = static_cast<float>(double(v) * scale);
        initializer(weight, {c, c, 1, 1}, &wq);
        initializer(bias, {c}, &bq);
      } else {
        parameter(weight, {c, c, 1, 1});
        parameter(bias, {c});
      }
      conv(x, name, name, weight, bias, 1, 0);
    }
    int64Constant("att.heads_shape", {heads, d, t});
    int64Constant("att.merge_shape", {1, c, h, w});
    for (const char* m : {"q", "k", "v"}) {
      const std::string name = std::string("att.") + m;
      node("Reshape", name + ".reshape", {name, "att.heads_shape"}, name + ".reshape");
    }
    ints(node("Transpose", "att.q.transpose", {"att.q.reshape"}, "att.q.transpose"), "perm",
         {0, 2, 1});
    node("MatMul", "att.scores", {"att.q.transpose", "att.k.reshape"}, "att.scores");
    integer(node("Softmax", "att.softmax", {"att.scores"}, "att.softmax"), "axis", -1);
    ints(node("Transpose", "att.softmax.transpose", {"att.softmax"}, "att.softmax.transpose"),
         "perm", {0, 2, 1});
    node("MatMul", "att.mix", {"att.v.reshape", "att.softmax.transpose"}, "att.mix");
    node("Reshape", "att.merge", {"att.mix", "att.merge_shape"}, "att.merge");
    const std::string output = projection(3);
    parameter(layer.parameters[6].name, {c, c, 1, 1});
    parameter(layer.parameters[7].name, {c});
    conv("att.merge", output, output, layer.parameters[6].name, layer.parameters[7].name, 1, 0);
    node("Add", "att.residual", {x, output}, "att.residual");
    return "att.residual";
  }

  const UNetConfig& config_;
  const GraphOptions& options_;
  const ParameterSet* params_;
  onnx::GraphProto* graph_;
};

// --------------------------------------------------------------- reading

Result<std::int64_t> elementCount(const onnx::TensorProto& t, const std::string& name) {
  std::int64_t count = 1;
  for (std::int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && count > (std::int64_t{1} << 40) / d))
      return Status(StatusCode::kCorruptData, "tensor '" + name + "' has invalid dimensions");
    count *= d;
  }
  return count;
}

Result<std::vector<std::int64_t>> int64Values(const onnx::TensorProto& t, const std::string& name) {
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t count, elementCount(t, name));
  // Sizes are checked against the data present before anything is allocated.
  const std::int64_t present =
      t.has_raw_data() ? static_cast<std::int64_t>(t.raw_data().size() / 8) : t.int64_data_size();
  if (present != count || (t.has_raw_data() && t.raw_data().size() % 8 != 0))
    return Status(StatusCode::kCorruptData, "tensor '" + name + "' holds the wrong amount of data");
  std::vector<std::int64_t> out(static_cast<std::size_t>(count));
  if (t.has_raw_data())
    std::memcpy(out.data(), t.raw_data().data(), t.raw_data().size());
  else
    for (int i = 0; i < t.int64_data_size(); ++i) out[i] = t.int64_data(i);
  return out;
}

// A canonical text of a constant's type, dims and values (for comparison).
std::string constantText(const onnx::TensorProto& t, const std::string& name) {
  Dims dims(t.dims().begin(), t.dims().end());
  std::string text = "type " + std::to_string(t.data_type()) + " " + dimsText(dims) + " ";
  if (t.data_type() == onnx::TensorProto::INT64) {
    Result<Dims> values = int64Values(t, name);
    if (!values.ok()) return text + "unreadable";
    return text + dimsText(*values);
  }
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    Result<std::vector<float>> values = floatValues(t, name);
    if (!values.ok()) return text + "unreadable";
    return text + std::string(reinterpret_cast<const char*>(values->data()), values->size() * 4);
  }
  return text + t.SerializeAsString();
}

// ------------------------------------------------------------ comparison

std::uint64_t fnv(std::string_view text, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}
std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  return fnv(std::string_view(reinterpret_cast<const char*>(&v), sizeof v), h);
}

// Canonical attribute text with ONNX defaults filled in; attributes the op
// does not define show up as "?name" so that they never compare equal.
class Attributes {
 public:
  explicit Attributes(const onnx::NodeProto& node) : node_(node) {}

  std::string ints(const char* name, const std::string& fallback) {
    const onnx::AttributeProto* a = find(name);
    if (!a) return std::string(" ") + name + "=" + fallback;
    if (a->type() != onnx::AttributeProto::INTS) return std::string(" ") + name + "=<wrong type>";
    return std::string(" ") + name + "=" + dimsText(Dims(a->ints().begin(), a->ints().end()));
  }
  std::string integer(const char* name, const std::string& fallback) {
    const onnx::AttributeProto* a = find(name);
    if (!a) return std::string(" ") + name + "=" + fallback;
    if (a->type() != onnx::AttributeProto::INT) return std::string(" ") + name + "=<wrong type>";
    return std::string(" ") + name + "=" + std::to_string(a->i());
  }
  std::string real(const char* name, float fallback) {
    const onnx::AttributeProto* a = find(name);
    if (!a) return std::string(" ") + name + "=" + floatText(fallback);
    if (a->type() != onnx::AttributeProto::FLOAT) return std::string(" ") + name + "=<wrong type>";
    return std::string(" ") + name + "=" + floatText(a->f());
  }
  std::string text(const char* name, const std::string& fallback) {
    const onnx::AttributeProto* a = find(name);
    if (!a) return std::string(" ") + name + "=" + fallback;
    if (a->type() != onnx::AttributeProto::STRING) return std::string(" ") + name + "=<wrong type>";
    return std::string(" ") + name + "=" + a->s();
  }
  // Attributes without effect on inference (batch-norm momentum, spatial).
  void ignore(const char* name) { seen_.insert(name); }
  std::string unknown() const {
    std::string out;
    for (const onnx::AttributeProto& a : node_.attribute())
      if (!seen_.count(a.name())) out += " ?" + a.name();
    return out;
  }

 private:
  const onnx::AttributeProto* find(const char* name) {
    seen_.insert(name);
    for (const onnx::AttributeProto& a : node_.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  const onnx::NodeProto& node_;
  std::set<std::string> seen_;
};

class View {
 public:
  enum class Kind { kInput, kParameter, kConstant, kNode, kUndefined };
  struct Ref {
    Kind kind = Kind::kUndefined;
    std::uint64_t hash = 0;
    int node = -1;
    int output = 0;
    std::string name;
  };

  View(const onnx::GraphProto& graph, const std::set<std::string>& parameters)
      : graph_(graph), parameters_(parameters) {}

  Status build() {
    constants_ = graphConstants(graph_);
    for (const onnx::ValueInfoProto& in : graph_.input())
      if (!constants_.count(in.name())) inputs_.insert(in.name());
    desc_.assign(graph_.node_size(), "");
    for (int i = 0; i < graph_.node_size(); ++i) {
      const onnx::NodeProto& n = graph_.node(i);
      if (n.op_type() == "Constant") {
        if (n.output_size() != 1 || !constants_.count(n.output(0)))
          return Status(StatusCode::kUnsupported,
                        "Constant node " + nodeLabel(n, i) +
                            " does not hold a tensor 'value' (the only form Tessera reads)");
        continue;
      }
      for (const std::string& in : n.input())
        if (!in.empty() && ref(in).kind == Kind::kUndefined)
          return Status(StatusCode::kCorruptData,
                        "node " + nodeLabel(n, i) + " reads '" + in +
                            "', which no earlier node, initializer or graph input provides");
      if (n.op_type() == "Identity" && n.input_size() == 1 && n.output_size() == 1) {
        if (!constants_.count(n.output(0))) produced_[n.output(0)] = ref(n.input(0));
        continue;
      }
      desc_[i] = canonical(n);
      std::uint64_t h = fnv(desc_[i]);
      for (const std::string& in : inputs(i)) h = mix(h, ref(in).hash);
      for (int k = 0; k < n.output_size(); ++k)
        if (!n.output(k).empty()) produced_[n.output(k)] = Ref{Kind::kNode, mix(h, k), i, k, {}};
    }
    return Status();
  }

  Ref ref(const std::string& tensor) const {
    if (inputs_.count(tensor)) return Ref{Kind::kInput, fnv("input"), -1, 0, tensor};
    if (auto c = constants_.find(tensor); c != constants_.end()) {
      if (parameters_.count(tensor))
        return Ref{Kind::kParameter, fnv("parameter " + tensor), -1, 0, tensor};
      return Ref{Kind::kConstant, fnv("constant " + constantText(*c->second, tensor)), -1, 0,
                 tensor};
    }
    if (auto p = produced_.find(tensor); p != produced_.end()) return p->second;
    return Ref{Kind::kUndefined, fnv("undefined " + tensor), -1, 0, tensor};
  }

  // A node's inputs without trailing empty (omitted optional) ones.
  std::vector<std::string> inputs(int node) const {
    const onnx::NodeProto& n = graph_.node(node);
    std::vector<std::string> in(n.input().begin(), n.input().end());
    while (!in.empty() && in.back().empty()) in.pop_back();
    return in;
  }

  std::string describe(const Ref& r) const {
    switch (r.kind) {
      case Kind::kInput:
        return "the graph input";
      case Kind::kParameter:
        return "parameter " + r.name;
      case Kind::kConstant: {
        const onnx::TensorProto& t = *constants_.at(r.name);
        std::string text = "constant '" + r.name + "'";
        if (t.data_type() == onnx::TensorProto::INT64)
          if (Result<Dims> v = int64Values(t, r.name); v.ok()) text += " " + dimsText(*v);
        return text;
      }
      case Kind::kNode: {
        std::string text =
            "node " + nodeLabel(graph_.node(r.node), r.node) + " (" + desc_[r.node] + ")";
        if (r.output > 0) text += " output " + std::to_string(r.output);
        return text;
      }
      case Kind::kUndefined:
        return "nothing";
    }
    return "nothing";
  }

  const onnx::GraphProto& graph() const { return graph_; }
  const std::string& desc(int node) const { return desc_[node]; }
  std::size_t inputCount() const { return inputs_.size(); }

 private:
  std::string kernelFromWeight(const onnx::NodeProto& n) const {
    if (n.input_size() < 2) return "?";
    auto c = constants_.find(n.input(1));
    if (c == constants_.end() || c->second->dims_size() != 4) return "?";
    return dimsText({c->second->dims(2), c->second->dims(3)});
  }

  std::string canonical(const onnx::NodeProto& n) const {
    const std::string& op = n.op_type();
    Attributes a(n);
    std::string text = n.domain().empty() || n.domain() == "ai.onnx" ? op : n.domain() + "." + op;
    if (op == "Conv" || op == "ConvTranspose") {
      text += a.text("auto_pad", "NOTSET") + a.ints("dilations", "[1, 1]") +
              a.integer("group", "1") + a.ints("kernel_shape", kernelFromWeight(n)) +
              a.ints("pads", "[0, 0, 0, 0]") + a.ints("strides", "[1, 1]");
      if (op == "ConvTranspose")
        text += a.ints("output_padding", "[0, 0]") + a.ints("output_shape", "none");
    } else if (op == "BatchNormalization") {
      text += a.real("epsilon", 1e-5f) + a.integer("training_mode", "0");
      a.ignore("momentum");
      a.ignore("spatial");
    } else if (op == "MaxPool") {
      text += a.text("auto_pad", "NOTSET") + a.integer("ceil_mode", "0") +
              a.ints("dilations", "[1, 1]") + a.ints("kernel_shape", "?") +
              a.ints("pads", "[0, 0, 0, 0]") + a.integer("storage_order", "0") +
              a.ints("strides", "[1, 1]");
    } else if (op == "Concat") {
      text += a.integer("axis", "?");
    } else if (op == "Reshape") {
      text += a.integer("allowzero", "0");
    } else if (op == "Transpose") {
      text += a.ints("perm", "reversed");
    } else if (op == "Softmax") {
      text += a.integer("axis", "-1");
    }
    int outputs = 0;
    for (const std::string& out : n.output()) outputs += !out.empty();
    return text + a.unknown() + " outputs=" + std::to_string(outputs);
  }

  const onnx::GraphProto& graph_;
  const std::set<std::string>& parameters_;
  std::map<std::string, const onnx::TensorProto*> constants_;
  std::set<std::string> inputs_;
  std::unordered_map<std::string, Ref> produced_;
  std::vector<std::string> desc_;
};

Status mismatch(const std::string& detail) {
  return Status(StatusCode::kUnsupported,
                "the graph is not the U-Net its metadata describes: " + detail);
}

// Walks back from a pair of differing tensors to the first difference.
Status explain(const View& expected, const View& actual, const std::string& e,
               const std::string& a) {
  const View::Ref re = expected.ref(e), ra = actual.ref(a);
  const bool sameNode = re.kind == View::Kind::kNode && ra.kind == View::Kind::kNode &&
                        expected.desc(re.node) == actual.desc(ra.node) && re.output == ra.output;
  if (!sameNode)
    return mismatch("where Tessera expects " + expected.describe(re) + ", the file has " +
                    actual.describe(ra));
  const std::vector<std::string> ie = expected.inputs(re.node), ia = actual.inputs(ra.node);
  if (ie.size() != ia.size())
    return mismatch(actual.describe(ra) + " has " + std::to_string(ia.size()) +
                    " inputs, expected " + std::to_string(ie.size()));
  for (std::size_t i = 0; i < ie.size(); ++i)
    if (expected.ref(ie[i]).hash != actual.ref(ia[i]).hash)
      return explain(expected, actual, ie[i], ia[i]);
  return mismatch("at " + actual.describe(ra));
}

}  // namespace

double attentionQueryScale(const UNetConfig& config) {
  const double d = static_cast<double>(config.channels(config.levels) / config.attentionHeads);
  return 1.0 / std::sqrt(d);
}

void buildGraph(const UNetConfig& config, const GraphOptions& options, const ParameterSet* params,
                onnx::GraphProto* graph) {
  assert(graph->node_size() == 0);
  Builder(config, options, params, graph).build();
}

Status checkOperators(const onnx::GraphProto& graph, const std::set<std::string>& pluginLayers) {
  static const std::set<std::string> kSupported{
      "Conv",    "BatchNormalization", "Relu",   "MaxPool", "ConvTranspose", "Concat",
      "Reshape", "Transpose",          "MatMul", "Softmax", "Add",           "Constant",
      "Identity"};
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& n = graph.node(i);
    const bool standard = n.domain().empty() || n.domain() == "ai.onnx";
    if (!standard && n.domain() == kPluginDomain && pluginLayers.count(n.op_type())) continue;
    if (!standard || !kSupported.count(n.op_type()))
      return Status(StatusCode::kUnsupported, "node " + nodeLabel(n, i) + " uses operator " +
                                                  (standard ? "" : n.domain() + ".") + n.op_type() +
                                                  ", which Tessera does not run");
  }
  return Status();
}

Status checkNoExternalData(const onnx::GraphProto& graph) {
  auto check = [](const onnx::TensorProto& t) {
    if (t.data_location() == onnx::TensorProto::EXTERNAL || t.external_data_size() > 0)
      return Status(StatusCode::kUnsupported,
                    "tensor '" + t.name() +
                        "' is stored in an external data file; Tessera reads self-contained "
                        ".onnx files only (save the model without external data)");
    return Status();
  };
  for (const onnx::TensorProto& t : graph.initializer()) TESSERA_RETURN_IF_ERROR(check(t));
  for (const onnx::NodeProto& n : graph.node())
    for (const onnx::AttributeProto& a : n.attribute())
      if (a.has_t()) TESSERA_RETURN_IF_ERROR(check(a.t()));
  return Status();
}

std::map<std::string, const onnx::TensorProto*> graphConstants(const onnx::GraphProto& graph) {
  std::map<std::string, const onnx::TensorProto*> constants;
  for (const onnx::TensorProto& t : graph.initializer()) constants[t.name()] = &t;
  for (const onnx::NodeProto& n : graph.node()) {
    if (n.output_size() != 1 || n.output(0).empty()) continue;
    if (n.op_type() == "Constant") {
      for (const onnx::AttributeProto& a : n.attribute())
        if (a.name() == "value" && a.type() == onnx::AttributeProto::TENSOR)
          constants[n.output(0)] = &a.t();
    } else if (n.op_type() == "Identity" && n.input_size() == 1) {
      if (auto c = constants.find(n.input(0)); c != constants.end())
        constants[n.output(0)] = c->second;
    }
  }
  return constants;
}

Result<std::vector<float>> floatValues(const onnx::TensorProto& t, const std::string& name) {
  if (t.data_type() != onnx::TensorProto::FLOAT)
    return Status(StatusCode::kUnsupported, "initializer " + name + " has element type " +
                                                std::to_string(t.data_type()) +
                                                "; Tessera reads float32 weights");
  TESSERA_ASSIGN_OR_RETURN(const std::int64_t count, elementCount(t, name));
  const std::int64_t present =
      t.has_raw_data() ? static_cast<std::int64_t>(t.raw_data().size() / 4) : t.float_data_size();
  if (present != count || (t.has_raw_data() && t.raw_data().size() % 4 != 0))
    return Status(StatusCode::kCorruptData, "initializer " + name + " holds " +
                                                std::to_string(present) + " values, its shape " +
                                                dimsText(Dims(t.dims().begin(), t.dims().end())) +
                                                " needs " + std::to_string(count));
  std::vector<float> out(static_cast<std::size_t>(count));
  if (t.has_raw_data())
    std::memcpy(out.data(), t.raw_data().data(), t.raw_data().size());
  else
    for (int i = 0; i < t.float_data_size(); ++i) out[i] = t.float_data(i);
  return out;
}

Status compareStructure(const onnx::GraphProto& expected, const onnx::GraphProto& actual,
                        const std::set<std::string>& parameterNames) {
  View e(expected, parameterNames), a(actual, parameterNames);
  if (Status s = e.build(); !s.ok())
    return Status(StatusCode::kInternal, "the expected graph is malformed: " + s.error().message);
  TESSERA_RETURN_IF_ERROR(a.build());
  if (a.inputCount() != 1)
    return mismatch("it has " + std::to_string(a.inputCount()) +
                    " graph inputs; a Tessera model has one (the normalised slices)");
  if (actual.output_size() != expected.output_size())
    return mismatch("it has " + std::to_string(actual.output_size()) + " outputs, expected " +
                    std::to_string(expected.output_size()) +
                    " (logits, plus one per deep-supervision head when the architecture "
                    "records deep_supervision)");
  for (int i = 0; i < expected.output_size(); ++i) {
    const std::string& eo = expected.output(i).name();
    const std::string& ao = actual.output(i).name();
    if (e.ref(eo).hash != a.ref(ao).hash) return explain(e, a, eo, ao);
  }
  return Status();
}

}  // namespace tessera::models::onnx_io
