// Private glue between Tessera's U-Net and ONNX protobuf graphs (never
// included by a public header): the one description of the exported graph,
// used both to write a file and as the expected structure when reading one,
// and the structural comparison that tolerates what differs between
// exporters (node order, node and tensor names, Identity nodes, constants as
// initializers or Constant nodes, attributes spelled out or left at their
// defaults).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/graph/graph_net.h"
#include "models/io/onnx_metadata.h"
#include "models/net/parameters.h"
#include "models/net/unet.h"

namespace tessera::models::onnx_io {

constexpr int kOpsetVersion = 13;
constexpr int kMaxOpsetVersion = 17;  // newest opset onnx 1.12 knows
constexpr int kIrVersion = 7;         // the IR version of opset 13 (onnx 1.8)

constexpr const char* kInputName = "input";
// Plugin layers are nodes of this domain, op type = the layer's name.
constexpr const char* kPluginDomain = "tessera.plugin";
constexpr const char* kOutputName = "logits";  // head L ≥ 1: "logits_L"

struct GraphOptions {
  std::int64_t height = 512;
  std::int64_t width = 512;
  bool foldBatchNorm = false;
  bool trainingHeads = false;  // head1.. as extra outputs (needs deepSupervision)
};

// The scale 1/sqrt(d) of the attention scores (d = channels per head), folded
// into att.q's weight and bias in files: files hold q·scale, Tessera q.
double attentionQueryScale(const UNetConfig& config);

// Writes the graph into `graph` (which must be empty). With `params`, every
// initializer holds its values (query scale and, when asked, batch norm
// folded); without, parameter initializers carry name, type and dims only.
void buildGraph(const UNetConfig& config, const GraphOptions& options, const ParameterSet* params,
                onnx::GraphProto* graph);

// Parses an ONNX file after checking it against the job's memory budget;
// errors say what is wrong with the file and name it.
Result<onnx::ModelProto> readModelFile(const std::string& path);
// Appends `props` to the file's metadata_props, in order.
void addMetadata(onnx::ModelProto* file, const MetadataProps& props);
// Writes `file` to `path` atomically (temporary name, then rename).
Status writeModelFile(const onnx::ModelProto& file, const std::string& path);
// The default-domain opset must be one Tessera reads (kOpsetVersion..kMaxOpsetVersion).
Status checkOpset(const onnx::ModelProto& model);

// Ops whose ONNX semantics Tessera implements (for the graphs above), and
// the plugin layers the model's architecture names (kPluginDomain).
Status checkOperators(const onnx::GraphProto& graph,
                      const std::set<std::string>& pluginLayers = {});

// External data (weights in a side file) is not supported: an error naming
// the first tensor stored that way.
Status checkNoExternalData(const onnx::GraphProto& graph);

// Constant tensors by name: initializers, Constant node outputs and
// Identity nodes applied to either (PyTorch turns a parameter equal to
// another into Identity(other)).
std::map<std::string, const onnx::TensorProto*> graphConstants(const onnx::GraphProto& graph);

// Values of a float32 tensor, checking the element count against its dims.
Result<std::vector<float>> floatValues(const onnx::TensorProto& tensor, const std::string& name);

// Whether `actual` computes what `expected` computes: same operators with
// equivalent attributes wired the same way from the graph input, the named
// parameters (by name) and equal constants, to the outputs in order. The
// error explains the first difference found walking back from an output.
Status compareStructure(const onnx::GraphProto& expected, const onnx::GraphProto& actual,
                        const std::set<std::string>& parameterNames);

// onnx_foreign.cpp: a graph exported by another framework as a GraphNet.
// Every node is mapped to a GraphOp or refused; unsupported operators are
// listed together (op type and first node), attributes Tessera cannot honour
// (groups, dilation, asymmetric padding, non-integer resize factors...) are
// errors naming the node. The input must be (N, C, H, W) with C fixed and N
// 1 or symbolic; H and W may be symbolic (the network is run at any multiple
// of its size multiple).
Result<GraphNet> graphNetFromOnnx(const onnx::GraphProto& graph);

}  // namespace tessera::models::onnx_io
