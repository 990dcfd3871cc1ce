#include "models/io/onnx_model.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/wire_format_lite.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/files.h"
#include "core/memory_budget.h"
#include "models/io/internal/onnx_graph.h"
#include "models/io/onnx_metadata.h"

namespace tessera::models {
namespace {
namespace fs = std::filesystem;
namespace keys = metadata_keys;
using onnx_io::GraphOptions;

constexpr const char* kCorruptMessage = "not an ONNX model (truncated or corrupt)";

Status checkReadable(const std::string& path) {
  std::error_code error;
  if (!fs::exists(path, error)) return Status(StatusCode::kNotFound, "model file not found", path);
  if (fs::is_directory(path, error))
    return Status(StatusCode::kInvalidArgument, "the model path is a directory", path);
  const auto size = fs::file_size(path, error);
  if (error) return Status(StatusCode::kIoError, "cannot read the model file", path);
  if (size == 0) return Status(StatusCode::kCorruptData, "the model file is empty", path);
  if (size > static_cast<std::uintmax_t>(INT_MAX))
    return Status(StatusCode::kUnsupported, "the model file is larger than 2 GB", path);
  // Reading holds the file's bytes, protobuf's parsed copy of them and the
  // weights unpacked from it at once: about three times the file, checked
  // against the job's memory budget before anything is read.
  if (Status fits = jobMemoryBudget().check(checkedBytes({static_cast<std::int64_t>(size), 3}),
                                            "reading the model file");
      !fits.ok())
    return Status(fits.code(), fits.error().message, path);
  return Status();
}

MetadataProps propsOf(const onnx::ModelProto& model) {
  MetadataProps props;
  for (const onnx::StringStringEntryProto& e : model.metadata_props())
    props.emplace_back(e.key(), e.value());
  return props;
}

const std::string* findProp(const MetadataProps& props, const char* key) {
  for (const auto& [k, v] : props)
    if (k == key) return &v;
  return nullptr;
}

// The fixed input size of the graph: (1, inputChannels, H, W), float.
Status readInputSize(const onnx::GraphProto& graph, const UNetConfig& config, std::int64_t* height,
                     std::int64_t* width) {
  std::set<std::string> initializers;
  for (const onnx::TensorProto& t : graph.initializer()) initializers.insert(t.name());
  const onnx::ValueInfoProto* input = nullptr;
  int count = 0;
  for (const onnx::ValueInfoProto& v : graph.input())
    if (!initializers.count(v.name())) {
      input = &v;
      ++count;
    }
  if (count != 1)
    return Status(StatusCode::kUnsupported,
                  "the graph has " + std::to_string(count) +
                      " inputs; a Tessera model has one (the normalised slices)");
  const onnx::TypeProto& type = input->type();
  if (!type.has_tensor_type() || type.tensor_type().elem_type() != onnx::TensorProto::FLOAT)
    return Status(StatusCode::kUnsupported, "the graph input must be a float32 tensor");
  const onnx::TensorShapeProto& shape = type.tensor_type().shape();
  std::vector<std::int64_t> dims;
  for (const onnx::TensorShapeProto::Dimension& d : shape.dim())
    dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  const std::int64_t multiple = config.sizeMultiple();
  if (dims.size() != 4 || dims[0] != 1 || dims[1] != config.inputChannels || dims[2] <= 0 ||
      dims[3] <= 0 || dims[2] % multiple != 0 || dims[3] % multiple != 0)
    return Status(StatusCode::kUnsupported, "the graph input must have the fixed shape (1, " +
                                                std::to_string(config.inputChannels) +
                                                ", H, W) with H and W multiples of " +
                                                std::to_string(multiple));
  *height = dims[2];
  *width = dims[3];
  return Status();
}

std::string dimsText(const std::vector<std::int64_t>& dims) {
  std::string text = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

Result<Model> importModel(const onnx::ModelProto& file) {
  const onnx::GraphProto& graph = file.graph();
  const MetadataProps props = propsOf(file);
  TESSERA_ASSIGN_OR_RETURN(ModelInfo info, infoFromMetadata(props));
  if (const std::string* folded = findProp(props, keys::kFoldedBatchNorm);
      folded && *folded == "true")
    return Status(StatusCode::kUnsupported,
                  "this file has batch norm folded into its convolutions (a deployment export); "
                  "Tessera needs the unfolded model: export it again without folding");
  TESSERA_RETURN_IF_ERROR(onnx_io::checkOpset(file));
  if (info.graphNetwork) {
    TESSERA_ASSIGN_OR_RETURN(GraphNet net, onnx_io::graphNetFromOnnx(graph));
    if (net.inputChannels != info.architecture.inputChannels ||
        net.classes != info.architecture.classes)
      return Status(StatusCode::kCorruptData,
                    "the graph's input channels or outputs differ from the model's metadata");
    const std::int64_t probe =
        net.sizeMultiple() * std::max<std::int64_t>(1, 64 / net.sizeMultiple());
    TESSERA_RETURN_IF_ERROR(net.checkShapes(probe, probe).status());
    Model model;
    model.info = info;
    model.graph = std::make_shared<GraphNet>(std::move(net));
    return model;
  }
  TESSERA_RETURN_IF_ERROR(onnx_io::checkNoExternalData(graph));
  const UNetConfig& config = info.architecture;
  std::set<std::string> pluginLayers;
  for (const PluginLayerUse& use : config.pluginLayers) pluginLayers.insert(use.name);
  TESSERA_RETURN_IF_ERROR(onnx_io::checkOperators(graph, pluginLayers));
  TESSERA_RETURN_IF_ERROR(config.checkPluginLayers());

  GraphOptions options;
  TESSERA_RETURN_IF_ERROR(readInputSize(graph, config, &options.height, &options.width));
  options.trainingHeads = config.deepSupervision;
  onnx::GraphProto expected;
  onnx_io::buildGraph(config, options, nullptr, &expected);
  std::set<std::string> parameterNames;
  for (const onnx::TensorProto& t : expected.initializer())
    if (t.data_type() == onnx::TensorProto::FLOAT) parameterNames.insert(t.name());
  TESSERA_RETURN_IF_ERROR(onnx_io::compareStructure(expected, graph, parameterNames));

  // Every parameter is present with the right dims before the network
  // (whose size the metadata alone decides) is allocated.
  const auto constants = onnx_io::graphConstants(graph);
  std::map<std::string, std::vector<float>> values;
  for (const onnx::TensorProto& slot : expected.initializer()) {
    if (!parameterNames.count(slot.name())) continue;
    auto found = constants.find(slot.name());
    if (found == constants.end())
      return Status(StatusCode::kCorruptData, "initializer " + slot.name() + " is missing");
    const onnx::TensorProto& t = *found->second;
    const std::vector<std::int64_t> want(slot.dims().begin(), slot.dims().end());
    const std::vector<std::int64_t> have(t.dims().begin(), t.dims().end());
    if (have != want)
      return Status(StatusCode::kCorruptData, "initializer " + slot.name() + " has shape " +
                                                  dimsText(have) + ", expected " + dimsText(want));
    TESSERA_ASSIGN_OR_RETURN(values[slot.name()], onnx_io::floatValues(t, slot.name()));
  }

  Model model;
  model.info = info;
  model.net = std::make_unique<UNet>(config);
  // sqrt(d), not 1 / attentionQueryScale: the same double the PyTorch twin uses.
  const double unscale =
      config.attentionHeads > 0
          ? std::sqrt(static_cast<double>(config.channels(config.levels) / config.attentionHeads))
          : 1.0;
  for (auto& p : model.net->parameters().all()) {
    auto v = values.find(p->name);
    if (v == values.end() ||
        static_cast<std::int64_t>(v->second.size()) != p->value.shape().count())
      return Status(StatusCode::kInternal, "no value for parameter " + p->name);
    float* dst = p->value.data();
    const bool query = p->name == "att.q.weight" || p->name == "att.q.bias";
    for (std::size_t i = 0; i < v->second.size(); ++i)
      dst[i] = query ? static_cast<float>(double(v->second[i]) * unscale) : v->second[i];
    ++p->version;
  }
  return model;
}

}  // namespace

namespace onnx_io {

Result<onnx::ModelProto> readModelFile(const std::string& path) {
  TESSERA_RETURN_IF_ERROR(checkReadable(path));
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof())
    return Status(StatusCode::kIoError, "cannot read the model file", path);
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return Status(StatusCode::kCorruptData, kCorruptMessage, path);
  if (!model.has_graph())
    return Status(StatusCode::kCorruptData, "not an ONNX model: the file holds no graph", path);
  return model;
}

void addMetadata(onnx::ModelProto* file, const MetadataProps& props) {
  for (const auto& [key, value] : props) {
    onnx::StringStringEntryProto* entry = file->add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
}

Status writeModelFile(const onnx::ModelProto& file, const std::string& path) {
  AtomicFile out(path);
  {
    std::ofstream stream(out.tempPath(), std::ios::binary | std::ios::trunc);
    if (!stream) return Status(StatusCode::kIoError, "cannot create the model file", path);
    if (!file.SerializeToOstream(&stream))
      return Status(StatusCode::kIoError, "cannot write the model file", path);
    stream.close();
    if (!stream) return Status(StatusCode::kIoError, "cannot write the model file", path);
  }
  return out.commit();
}

Status checkOpset(const onnx::ModelProto& model) {
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    if (!opset.domain().empty() && opset.domain() != "ai.onnx") continue;
    if (opset.version() < onnx_io::kOpsetVersion || opset.version() > onnx_io::kMaxOpsetVersion)
      return Status(StatusCode::kUnsupported,
                    "the model uses ONNX opset " + std::to_string(opset.version()) +
                        "; Tessera reads opsets " + std::to_string(onnx_io::kOpsetVersion) +
                        " to " + std::to_string(onnx_io::kMaxOpsetVersion));
    return Status();
  }
  return Status(StatusCode::kCorruptData, "the model does not declare its ONNX opset");
}

}  // namespace onnx_io

Status exportOnnx(const Model& model, const std::string& path, const ExportOptions& options) {
  if (!model.net) return Status(StatusCode::kInvalidArgument, "the model has no network");
  TESSERA_RETURN_IF_ERROR(model.info.validate());
  const UNetConfig& config = model.net->config();
  if (config.inputChannels != model.info.architecture.inputChannels ||
      config.classes != model.info.architecture.classes ||
      config.baseWidth != model.info.architecture.baseWidth ||
      config.levels != model.info.architecture.levels ||
      config.attentionHeads != model.info.architecture.attentionHeads ||
      config.pluginLayers != model.info.architecture.pluginLayers)
    return Status(StatusCode::kInvalidArgument,
                  "the model's network does not match its recorded architecture");
  TESSERA_RETURN_IF_ERROR(config.checkPluginLayers());
  const std::int64_t multiple = config.sizeMultiple();
  if (options.height <= 0 || options.width <= 0 || options.height % multiple != 0 ||
      options.width % multiple != 0 || options.height > 65536 || options.width > 65536)
    return Status(StatusCode::kInvalidArgument, "the export size must be positive multiples of " +
                                                    std::to_string(multiple) +
                                                    " (2^levels), at most 65536");
  if (options.includeTrainingHeads && !config.deepSupervision)
    return Status(StatusCode::kInvalidArgument,
                  "the model has no deep-supervision heads to export");
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));

  ModelInfo info = model.info;
  info.architecture = config;
  info.architecture.deepSupervision = config.deepSupervision && options.includeTrainingHeads;

  onnx::ModelProto file;
  file.set_ir_version(onnx_io::kIrVersion);
  file.set_producer_name("Tessera");
  file.set_producer_version(TESSERA_VERSION);
  file.set_doc_string(info.description);
  onnx::OperatorSetIdProto* opset = file.add_opset_import();
  opset->set_domain("");
  opset->set_version(onnx_io::kOpsetVersion);
  if (!config.pluginLayers.empty()) {
    onnx::OperatorSetIdProto* plugins = file.add_opset_import();
    plugins->set_domain(onnx_io::kPluginDomain);
    plugins->set_version(1);
  }
  GraphOptions graphOptions;
  graphOptions.height = options.height;
  graphOptions.width = options.width;
  graphOptions.foldBatchNorm = options.foldBatchNorm;
  graphOptions.trainingHeads = info.architecture.deepSupervision;
  onnx_io::buildGraph(config, graphOptions, &model.net->parameters(), file.mutable_graph());
  MetadataProps props = metadataFromInfo(info);
  if (options.foldBatchNorm) props.emplace_back(keys::kFoldedBatchNorm, "true");
  onnx_io::addMetadata(&file, props);
  return onnx_io::writeModelFile(file, path);
}

Status writeWithMetadata(const std::string& in, const std::string& out, const MetadataEdit& edit) {
  TESSERA_ASSIGN_OR_RETURN(onnx::ModelProto file, onnx_io::readModelFile(in));
  MetadataProps props;
  for (const auto& entry : file.metadata_props()) props.emplace_back(entry.key(), entry.value());
  Result<ModelInfo> info = infoFromMetadata(props);
  if (!info.ok()) return Status(info.status()).withContext(in);
  if (edit.postProcessing) info->postProcessing = *edit.postProcessing;
  if (edit.contextOffsetMm) info->contextOffsetMm = *edit.contextOffsetMm;
  if (edit.labelCodes) info->labelCodes = *edit.labelCodes;
  TESSERA_RETURN_IF_ERROR(info->validate());
  TESSERA_RETURN_IF_ERROR(checkOutputPath(out));
  // Only the keys an edit manages are rewritten, from the edited info.
  const auto managed = [](const std::string& key) {
    return key == keys::kPostProcessing || key == keys::kContextOffset || key == keys::kLabelCodes;
  };
  auto* entries = file.mutable_metadata_props();
  for (int i = entries->size() - 1; i >= 0; --i)
    if (managed(entries->Get(i).key())) entries->DeleteSubrange(i, 1);
  MetadataProps rewritten;
  for (auto& entry : metadataFromInfo(*info))
    if (managed(entry.first)) rewritten.push_back(std::move(entry));
  onnx_io::addMetadata(&file, rewritten);
  return onnx_io::writeModelFile(file, out);
}

Result<Model> importOnnx(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(onnx::ModelProto file, onnx_io::readModelFile(path));
  Result<Model> model = importModel(file);
  if (!model.ok()) return Status(model.status()).withContext(path);
  return model;
}

Result<ModelInfo> readOnnxInfo(const std::string& path) {
  namespace io = google::protobuf::io;
  using google::protobuf::internal::WireFormatLite;
  TESSERA_RETURN_IF_ERROR(checkReadable(path));
  std::error_code error;
  const auto size = static_cast<std::int64_t>(fs::file_size(path, error));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(StatusCode::kIoError, "cannot open the model file", path);
  MetadataProps props;
  bool sawGraph = false, clean = false;
  {
    io::FileInputStream raw(fd);
    raw.SetCloseOnDelete(true);
    io::CodedInputStream in(&raw);
    // Top-level fields of ModelProto: metadata_props (14) is decoded, every
    // other field skipped; skipping the graph (7) seeks past the weights.
    constexpr int kGraphField = 7, kMetadataField = 14;
    while (true) {
      const std::uint32_t tag = in.ReadTag();
      if (tag == 0) {
        clean = in.ConsumedEntireMessage();
        break;
      }
      const int field = WireFormatLite::GetTagFieldNumber(tag);
      const auto wire = WireFormatLite::GetTagWireType(tag);
      if (field == kMetadataField && wire == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        std::uint32_t length = 0;
        std::string bytes;
        if (!in.ReadVarint32(&length) || length > static_cast<std::uint32_t>(size) ||
            !in.ReadString(&bytes, static_cast<int>(length)))
          break;
        onnx::StringStringEntryProto entry;
        if (!entry.ParseFromString(bytes)) break;
        props.emplace_back(entry.key(), entry.value());
        continue;
      }
      if (field == kGraphField) sawGraph = true;
      if (!WireFormatLite::SkipField(&in, tag)) break;
    }
    // A seek past the end of a truncated file succeeds; the position tells.
    if (in.CurrentPosition() != size) clean = false;
  }
  if (!clean) return Status(StatusCode::kCorruptData, kCorruptMessage, path);
  if (!sawGraph)
    return Status(StatusCode::kCorruptData, "not an ONNX model: the file holds no graph", path);
  Result<ModelInfo> info = infoFromMetadata(props);
  if (!info.ok()) return Status(info.status()).withContext(path);
  return info;
}

}  // namespace tessera::models
