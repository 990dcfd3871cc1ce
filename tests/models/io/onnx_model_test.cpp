#include "models/io/onnx_model.h"

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>
#include <fstream>
#include <opencv2/dnn.hpp>
#include <random>

#include "core/files.h"
#include "core/memory_budget.h"
#include "tests/support/onnx_util.h"
#include "tests/support/tensor_util.h"

namespace tessera::models {
namespace {
namespace fs = std::filesystem;
using testing::randomModel;
using testing::randomTensor;
using testing::smallOnnxConfig;
using testing::smallOnnxInfo;

onnx::ModelProto readProto(const std::string& path) {
  onnx::ModelProto model;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(model.ParseFromIstream(&in)) << path;
  return model;
}

void writeProto(const onnx::ModelProto& model, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(model.SerializeToOstream(&out));
}

void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Tensor referenceLogits(Model& model, const Tensor& input) {
  auto backend = makeReferenceBackend();
  return model.net->forward(*backend, input);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class OnnxModelTest : public testing::TempDirTest {
 protected:
  // Exports a fresh random model and returns the path.
  std::string exportSmall(const std::string& name, const ExportOptions& options = {}) {
    model_ = randomModel(smallOnnxInfo(), 11);
    const std::string file = path(name);
    const Status s = exportOnnx(model_, file, options);
    EXPECT_TRUE(s.ok()) << s.toString();
    return file;
  }
  static ExportOptions small(int size = 32) {
    ExportOptions o;
    o.height = size;
    o.width = size;
    return o;
  }
  Model model_;
};

TEST_F(OnnxModelTest, RoundTripKeepsParametersMetadataAndLogits) {
  ExportOptions options = small();
  options.includeTrainingHeads = true;
  const std::string file = exportSmall("model.onnx", options);
  Result<Model> imported = importOnnx(file);
  ASSERT_TRUE(imported.ok()) << imported.status().toString();

  const ModelInfo& a = model_.info;
  const ModelInfo& b = imported->info;
  EXPECT_EQ(b.name, a.name);
  EXPECT_EQ(b.version, a.version);
  EXPECT_EQ(b.description, a.description);
  EXPECT_EQ(b.trainingSummary, a.trainingSummary);
  EXPECT_EQ(b.blockSize, a.blockSize);
  EXPECT_EQ(b.input.huMin, a.input.huMin);
  EXPECT_EQ(b.input.huMax, a.input.huMax);
  EXPECT_EQ(b.input.huOffset, a.input.huOffset);
  EXPECT_EQ(b.input.huScale, a.input.huScale);
  ASSERT_EQ(b.labels.labels.size(), a.labels.labels.size());
  for (std::size_t i = 0; i < a.labels.labels.size(); ++i) {
    EXPECT_EQ(b.labels.labels[i].value, a.labels.labels[i].value);
    EXPECT_EQ(b.labels.labels[i].name, a.labels.labels[i].name);
    EXPECT_EQ(b.labels.labels[i].rgb, a.labels.labels[i].rgb);
  }
  const UNetConfig& ca = a.architecture;
  const UNetConfig& cb = imported->net->config();
  EXPECT_EQ(cb.inputChannels, ca.inputChannels);
  EXPECT_EQ(cb.classes, ca.classes);
  EXPECT_EQ(cb.baseWidth, ca.baseWidth);
  EXPECT_EQ(cb.levels, ca.levels);
  EXPECT_EQ(cb.attentionHeads, ca.attentionHeads);
  EXPECT_EQ(cb.deepSupervision, ca.deepSupervision);
  EXPECT_EQ(cb.bnEps, ca.bnEps);
  EXPECT_EQ(cb.bnMomentum, ca.bnMomentum);

  const auto& pa = model_.net->parameters().all();
  const auto& pb = imported->net->parameters().all();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    ASSERT_EQ(pb[i]->name, pa[i]->name);
    ASSERT_EQ(pb[i]->value.shape(), pa[i]->value.shape()) << pa[i]->name;
    EXPECT_EQ(pb[i]->trainable, pa[i]->trainable) << pa[i]->name;
    // att.q is stored multiplied by 1/sqrt(d) and divided again on import:
    // two float roundings, so at most an ulp or so apart. Everything else is
    // copied bit for bit.
    const bool query = pa[i]->name.rfind("att.q.", 0) == 0;
    for (std::int64_t k = 0; k < pa[i]->value.shape().count(); ++k) {
      const float x = pa[i]->value.data()[k], y = pb[i]->value.data()[k];
      if (query)
        ASSERT_LE(std::abs(x - y), 2.5e-7f * std::abs(x)) << pa[i]->name << "[" << k << "]";
      else
        ASSERT_EQ(x, y) << pa[i]->name << "[" << k << "]";
    }
  }
  const Tensor input = randomTensor({1, 3, 32, 32}, 5);
  const Tensor la = referenceLogits(model_, input);
  const Tensor lb = referenceLogits(*imported, input);
  EXPECT_LE(maxRelativeDifference(lb, la), 1e-5);
}

TEST_F(OnnxModelTest, DefaultExportHoldsTheInferenceNetworkOnly) {
  const std::string file = exportSmall("model.onnx", small());
  const onnx::ModelProto proto = readProto(file);
  ASSERT_EQ(proto.graph().output_size(), 1);
  EXPECT_EQ(proto.graph().output(0).name(), "logits");
  for (const onnx::TensorProto& t : proto.graph().initializer())
    EXPECT_NE(t.name(), "head1.weight");

  Result<Model> imported = importOnnx(file);
  ASSERT_TRUE(imported.ok()) << imported.status().toString();
  EXPECT_FALSE(imported->info.architecture.deepSupervision);
  EXPECT_FALSE(imported->net->config().deepSupervision);
  EXPECT_EQ(imported->net->parameters().find("head1.weight"), nullptr);
  const Tensor input = randomTensor({1, 3, 32, 32}, 6);
  EXPECT_LE(
      maxRelativeDifference(referenceLogits(*imported, input), referenceLogits(model_, input)),
      1e-5);
}

TEST_F(OnnxModelTest, InitializersAndNodesAreNamedAfterParameters) {
  const onnx::ModelProto proto = readProto(exportSmall("model.onnx", small()));
  EXPECT_EQ(proto.producer_name(), "Tessera");
  ASSERT_EQ(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).version(), 13);
  std::set<std::string> initializers, nodes;
  for (const onnx::TensorProto& t : proto.graph().initializer()) initializers.insert(t.name());
  for (const onnx::NodeProto& n : proto.graph().node()) nodes.insert(n.name());
  for (const char* name :
       {"enc0.conv1.weight", "enc0.bn1.running_mean", "enc1.bn2.running_var", "bott.conv2.weight",
        "att.q.bias", "att.o.weight", "up0.weight", "up0.bias", "dec0.conv1.weight", "head0.bias"})
    EXPECT_TRUE(initializers.count(name)) << name;
  for (const char* name : {"enc0.conv1", "enc0.bn1", "enc0.relu1", "enc0.pool", "att.q",
                           "att.softmax", "up1", "dec1.concat", "head0"})
    EXPECT_TRUE(nodes.count(name)) << name;
  // BN vectors are 1-D in ONNX, conv weights 4-D.
  for (const onnx::TensorProto& t : proto.graph().initializer()) {
    if (t.name() == "enc0.bn1.weight") {
      EXPECT_EQ(t.dims_size(), 1);
    }
    if (t.name() == "enc0.conv1.weight") {
      EXPECT_EQ(t.dims_size(), 4);
    }
  }
  std::map<std::string, std::string> meta;
  for (const auto& e : proto.metadata_props()) meta[e.key()] = e.value();
  for (const char* key : {"tessera.format_version", "tessera.model_name", "tessera.model_version",
                          "tessera.description", "tessera.architecture", "tessera.labels",
                          "tessera.input_normalization", "tessera.context_slices",
                          "tessera.block_size", "tessera.training"})
    EXPECT_TRUE(meta.count(key)) << key;
  EXPECT_EQ(meta["tessera.format_version"], "1");
  EXPECT_EQ(meta["tessera.context_slices"], "3");
  EXPECT_TRUE(contains(meta["tessera.labels"], "\"name\":\"tissue_2\""));
  EXPECT_TRUE(contains(meta["tessera.labels"], "\"color\":[20,253,9]"));
}

TEST_F(OnnxModelTest, ExportedFilesPassTheOnnxChecker) {
  ExportOptions heads = small();
  heads.includeTrainingHeads = true;
  ExportOptions folded = small();
  folded.foldBatchNorm = true;
  for (const ExportOptions& options : {small(), heads, folded}) {
    const std::string file = exportSmall("checked.onnx", options);
    try {
      onnx::checker::check_model(file);
      onnx::ModelProto proto = readProto(file);
      // Strict shape inference: every node must accept its inputs.
      onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                         onnx::ShapeInferenceOptions(true, 1, false));
      std::map<std::string, std::vector<std::int64_t>> shapes;
      for (const onnx::ValueInfoProto& v : proto.graph().value_info()) {
        std::vector<std::int64_t> dims;
        for (const auto& d : v.type().tensor_type().shape().dim()) dims.push_back(d.dim_value());
        shapes[v.name()] = dims;
      }
      // Bottleneck 8×8 = 64 tokens, 2 heads of 8 channels.
      EXPECT_EQ(shapes["att.scores"], (std::vector<std::int64_t>{2, 64, 64}));
      EXPECT_EQ(shapes["att.mix"], (std::vector<std::int64_t>{2, 8, 64}));
      EXPECT_EQ(shapes["dec0.concat"], (std::vector<std::int64_t>{1, 8, 32, 32}));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "onnx rejects the export (fold " << options.foldBatchNorm << ", heads "
                    << options.includeTrainingHeads << "): " << e.what();
    }
  }
}

// OpenCV's DNN module is an independent ONNX implementation: the same file
// must give the same logits as Tessera's reference backend.
class OpenCvCrossCheck : public OnnxModelTest {
 protected:
  double crossCheck(Model& model, const std::string& file, const Tensor& input) {
    cv::dnn::Net net;
    try {
      net = cv::dnn::readNetFromONNX(file);
    } catch (const cv::Exception& e) {
      ADD_FAILURE() << "OpenCV cannot read the export: " << e.what();
      return 1e9;
    }
    const int dims[4] = {1, int(input.c()), int(input.h()), int(input.w())};
    cv::Mat blob(4, dims, CV_32F, const_cast<float*>(input.data()));
    net.setInput(blob);
    const cv::Mat out = net.forward("logits");
    const Tensor expected = referenceLogits(model, input);
    EXPECT_EQ(out.dims, 4);
    EXPECT_EQ(out.total(), static_cast<std::size_t>(expected.shape().count()));
    if (out.total() != static_cast<std::size_t>(expected.shape().count())) return 1e9;
    Tensor actual = Tensor::zeros(expected.shape());
    std::copy(out.ptr<float>(), out.ptr<float>() + out.total(), actual.data());
    return maxRelativeDifference(actual, expected);
  }
};

TEST_F(OpenCvCrossCheck, SameLogitsAsTessera) {
  const std::string file = exportSmall("model.onnx", small(64));
  const Tensor input = randomTensor({1, 3, 64, 64}, 21, 2.0f);
  EXPECT_LE(crossCheck(model_, file, input), 1e-4);

  // The check covers the attention block: without it the logits move far
  // beyond the tolerance.
  Model noAttention = randomModel(smallOnnxInfo(), 11);
  noAttention.net->parameters().find("att.o.weight")->value.setZero();
  noAttention.net->parameters().find("att.o.bias")->value.setZero();
  EXPECT_GT(
      maxRelativeDifference(referenceLogits(noAttention, input), referenceLogits(model_, input)),
      1e-2);
}

TEST_F(OpenCvCrossCheck, FoldedBatchNormGivesTheSameLogits) {
  ExportOptions options = small(64);
  options.foldBatchNorm = true;
  const std::string file = exportSmall("folded.onnx", options);
  const onnx::ModelProto proto = readProto(file);
  for (const onnx::NodeProto& n : proto.graph().node())
    EXPECT_NE(n.op_type(), "BatchNormalization");
  const Tensor input = randomTensor({1, 3, 64, 64}, 22, 2.0f);
  EXPECT_LE(crossCheck(model_, file, input), 1e-4);
}

TEST_F(OnnxModelTest, ReadInfoReadsTheMetadataOnly) {
  const std::string file = exportSmall("model.onnx", small());
  Result<ModelInfo> info = readOnnxInfo(file);
  ASSERT_TRUE(info.ok()) << info.status().toString();
  EXPECT_EQ(info->name, model_.info.name);
  EXPECT_EQ(info->description, model_.info.description);
  EXPECT_EQ(info->architecture.baseWidth, 4);
  EXPECT_EQ(info->architecture.attentionHeads, 2);
  EXPECT_FALSE(info->architecture.deepSupervision);  // training heads not exported
  EXPECT_EQ(info->labels.labels.size(), 4u);
  EXPECT_EQ(info->labels.labels[3].name, "tissue_3");
  EXPECT_EQ(info->contextRadius(), 1);
}

TEST_F(OnnxModelTest, ImportAcceptsAnotherExportersSpelling) {
  // What PyTorch's exporter does differently: its own tensor names, reshape
  // shapes as Constant nodes, attributes left at defaults, parameters equal
  // to another one written as Identity(other), nodes in another order.
  const std::string file = exportSmall("model.onnx", small());
  onnx::ModelProto proto = readProto(file);
  onnx::GraphProto* g = proto.mutable_graph();
  std::map<std::string, std::string> rename;
  std::set<std::string> keep{"input", "logits"};
  for (const auto& t : g->initializer()) keep.insert(t.name());
  int counter = 0;
  for (auto& n : *g->mutable_node()) {
    n.set_name("/" + n.op_type() + "_" + std::to_string(counter));
    for (auto& out : *n.mutable_output())
      if (!keep.count(out)) out = rename[out] = "/t" + std::to_string(counter++);
    for (auto& in : *n.mutable_input())
      if (rename.count(in)) in = rename[in];
    if (n.op_type() == "Conv") {
      auto* attrs = n.mutable_attribute();
      for (int i = attrs->size() - 1; i >= 0; --i)
        if (attrs->Get(i).name() == "strides") attrs->DeleteSubrange(i, 1);
    }
  }
  onnx::GraphProto rebuilt;
  rebuilt.CopyFrom(*g);
  rebuilt.clear_initializer();
  rebuilt.clear_node();
  for (const auto& t : g->initializer()) {
    if (t.data_type() == onnx::TensorProto::INT64) {
      onnx::NodeProto* c = rebuilt.add_node();
      c->set_op_type("Constant");
      c->add_output(t.name());
      onnx::AttributeProto* a = c->add_attribute();
      a->set_name("value");
      a->set_type(onnx::AttributeProto::TENSOR);
      a->mutable_t()->CopyFrom(t);
      a->mutable_t()->clear_name();
    } else if (t.name() == "enc1.bn2.running_var") {
      onnx::TensorProto* copy = rebuilt.add_initializer();
      copy->CopyFrom(t);
      copy->set_name("onnx::dedup_0");
      onnx::NodeProto* id = rebuilt.add_node();
      id->set_op_type("Identity");
      id->add_input("onnx::dedup_0");
      id->add_output(t.name());
    } else {
      rebuilt.add_initializer()->CopyFrom(t);
    }
  }
  // The q, k and v projections swap places (still a topological order).
  std::vector<onnx::NodeProto> nodes(g->node().begin(), g->node().end());
  auto at = [&](const char* op, int nth) {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].op_type() == op && nth-- == 0) return i;
    return nodes.size();
  };
  const std::size_t firstReshape = at("Reshape", 0);
  ASSERT_LT(firstReshape, nodes.size());
  std::swap(nodes[firstReshape - 3], nodes[firstReshape - 1]);
  for (const auto& n : nodes) rebuilt.add_node()->CopyFrom(n);
  g->Swap(&rebuilt);
  writeProto(proto, path("respelled.onnx"));

  Result<Model> imported = importOnnx(path("respelled.onnx"));
  ASSERT_TRUE(imported.ok()) << imported.status().toString();
  const Tensor input = randomTensor({1, 3, 32, 32}, 8);
  EXPECT_LE(
      maxRelativeDifference(referenceLogits(*imported, input), referenceLogits(model_, input)),
      1e-5);
  EXPECT_EQ(imported->net->parameters().find("enc1.bn2.running_var")->value.data()[1],
            model_.net->parameters().find("enc1.bn2.running_var")->value.data()[1]);
}

TEST_F(OnnxModelTest, ExportIsAtomicAndChecksItsOptions) {
  Model model = randomModel(smallOnnxInfo(), 3);
  ExportOptions bad;
  bad.height = 30;  // not a multiple of 4
  bad.width = 32;
  Status s = exportOnnx(model, path("bad.onnx"), bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(path("bad.onnx")));
  s = exportOnnx(model, path("missing_dir/model.onnx"), small());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);

  writeBytes(path("model.onnx"), "old content");
  ASSERT_TRUE(exportOnnx(model, path("model.onnx"), small()).ok());
  EXPECT_TRUE(importOnnx(path("model.onnx")).ok());
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "model.onnx");
  }
  EXPECT_EQ(files, 1);
}

// ---------------------------------------------------------------- bad files

// Reading a model holds about three times its file at once; a file that
// cannot fit the job's memory budget is refused before it is read.
TEST_F(OnnxModelTest, AModelFileBeyondTheMemoryBudgetIsRefusedBeforeReading) {
  const std::string file = exportSmall("model.onnx", small());
  const auto size = static_cast<std::int64_t>(fs::file_size(file));
  setJobMemoryLimit(2 * size);
  Result<Model> refused = importOnnx(file);
  setJobMemoryLimit(0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, StatusCode::kResourceExhausted) << refused.error().toString();
  EXPECT_TRUE(contains(refused.error().message, "reading the model file needs"))
      << refused.error().toString();
  EXPECT_EQ(refused.error().context, file);
  EXPECT_TRUE(importOnnx(file).ok()) << "the default budget reads it";
}

TEST_F(OnnxModelTest, MissingEmptyTruncatedAndRandomFilesAreClearErrors) {
  Result<Model> missing = importOnnx(path("nope.onnx"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, StatusCode::kNotFound);
  EXPECT_EQ(readOnnxInfo(path("nope.onnx")).status().code(), StatusCode::kNotFound);

  writeBytes(path("empty.onnx"), "");
  Result<Model> empty = importOnnx(path("empty.onnx"));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, StatusCode::kCorruptData);
  EXPECT_TRUE(contains(empty.error().message, "empty"));
  EXPECT_EQ(readOnnxInfo(path("empty.onnx")).status().code(), StatusCode::kCorruptData);

  const std::string whole = readBytes(exportSmall("model.onnx", small()));
  writeBytes(path("half.onnx"), whole.substr(0, whole.size() / 2));
  Result<Model> half = importOnnx(path("half.onnx"));
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().code, StatusCode::kCorruptData);
  EXPECT_TRUE(contains(half.error().message, "truncated or corrupt")) << half.error().message;
  EXPECT_EQ(half.error().context, path("half.onnx"));
  Result<ModelInfo> halfInfo = readOnnxInfo(path("half.onnx"));
  ASSERT_FALSE(halfInfo.ok());
  EXPECT_TRUE(contains(halfInfo.error().message, "truncated or corrupt"));
  // Only the last bytes missing: inside the metadata.
  writeBytes(path("short.onnx"), whole.substr(0, whole.size() - 3));
  EXPECT_EQ(importOnnx(path("short.onnx")).status().code(), StatusCode::kCorruptData);
  EXPECT_EQ(readOnnxInfo(path("short.onnx")).status().code(), StatusCode::kCorruptData);

  std::mt19937 rng(1234);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  writeBytes(path("noise.onnx"), noise);
  Result<Model> random = importOnnx(path("noise.onnx"));
  ASSERT_FALSE(random.ok());
  EXPECT_EQ(random.error().code, StatusCode::kCorruptData) << random.error().message;
  EXPECT_FALSE(readOnnxInfo(path("noise.onnx")).ok());
}

TEST_F(OnnxModelTest, OnnxWithoutTesseraMetadataIsRefused) {
  onnx::ModelProto proto;
  proto.set_ir_version(7);
  proto.add_opset_import()->set_version(13);
  onnx::GraphProto* g = proto.mutable_graph();
  g->set_name("plain");
  for (auto* v : {g->add_input(), g->add_output()}) {
    auto* type = v->mutable_type()->mutable_tensor_type();
    type->set_elem_type(onnx::TensorProto::FLOAT);
    type->mutable_shape()->add_dim()->set_dim_value(4);
  }
  g->mutable_input(0)->set_name("x");
  g->mutable_output(0)->set_name("y");
  onnx::NodeProto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->add_input("x");
  relu->add_output("y");
  onnx::checker::check_model(proto);  // a valid ONNX model
  writeProto(proto, path("plain.onnx"));

  for (const Status& s :
       {importOnnx(path("plain.onnx")).status(), readOnnxInfo(path("plain.onnx")).status()}) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kUnsupported);
    EXPECT_TRUE(contains(s.error().message, "no Tessera metadata")) << s.error().message;
  }
}

// Rewrites a metadata entry (or removes it when `value` is null).
void setMetadata(onnx::ModelProto& proto, const std::string& key, const char* value) {
  auto* props = proto.mutable_metadata_props();
  for (int i = 0; i < props->size(); ++i)
    if (props->Get(i).key() == key) {
      if (value)
        props->Mutable(i)->set_value(value);
      else
        props->DeleteSubrange(i, 1);
      return;
    }
  ADD_FAILURE() << "no metadata " << key;
}

// The context offset is recorded only when set, read back exactly, and a
// malformed one names its key.
TEST_F(OnnxModelTest, TheContextOffsetRoundTrips) {
  ModelInfo info = smallOnnxInfo();
  info.contextOffsetMm = 2.5;
  Model model = randomModel(info, 11);
  ASSERT_TRUE(exportOnnx(model, path("offset.onnx"), small()).ok());
  auto read = importOnnx(path("offset.onnx"));
  ASSERT_TRUE(read.ok()) << read.status().toString();
  EXPECT_EQ(read->info.contextOffsetMm, 2.5);
  const onnx::ModelProto plain = readProto(exportSmall("plain.onnx", small()));
  for (const auto& e : plain.metadata_props()) EXPECT_NE(e.key(), "tessera.context_offset_mm");
  EXPECT_EQ(importOnnx(path("plain.onnx"))->info.contextOffsetMm, 0.0);
  for (const char* bad : {"-1", "\"2.5\"", "1000"}) {
    onnx::ModelProto proto = readProto(path("offset.onnx"));
    setMetadata(proto, "tessera.context_offset_mm", bad);
    writeProto(proto, path("bad.onnx"));
    auto refused = readOnnxInfo(path("bad.onnx"));
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_TRUE(contains(refused.error().message, "context")) << refused.error().message;
  }
}

TEST_F(OnnxModelTest, LabelCodesRoundTripAndCodesOfNoLabelAreRefused) {
  ModelInfo info = smallOnnxInfo();
  const std::string name = info.labels.labels.at(1).name;
  info.labelCodes[name] = {{"85756007", "SCT", "Tissue"}, {"91727004", "SCT", "Muscle"}};
  Model model = randomModel(info, 11);
  ASSERT_TRUE(exportOnnx(model, path("codes.onnx"), small()).ok());
  auto read = importOnnx(path("codes.onnx"));
  ASSERT_TRUE(read.ok()) << read.status().toString();
  ASSERT_EQ(read->info.labelCodes.size(), 1u);
  EXPECT_EQ(read->info.labelCodes.at(name).type[2], "Muscle");
  EXPECT_EQ(read->info.labelCodes.at(name).category[0], "85756007");
  const onnx::ModelProto plain = readProto(exportSmall("plain.onnx", small()));
  for (const auto& e : plain.metadata_props()) EXPECT_NE(e.key(), "tessera.label_codes");
  const std::pair<const char*, const char*> bad[] = {
      {R"({"heart": {"category": ["a","b","c"], "type": ["a","b","c"]}})", "not a label"},
      {R"({"LABEL": {"category": ["a","b","c"]}})", "[code value, coding scheme, meaning]"},
      {R"({"LABEL": {"category": ["a","b",""], "type": ["a","b","c"]}})", "need a value"},
      {R"({"LABEL": {"category": ["a","b",3], "type": ["a","b","c"]}})", "non-string"},
      {R"(["not", "an object"])", "expected an object"},
  };
  for (const auto& [json, expected] : bad) {
    std::string text = json;
    const std::size_t at = text.find("LABEL");
    if (at != std::string::npos) text.replace(at, 5, name);
    onnx::ModelProto proto = readProto(path("codes.onnx"));
    setMetadata(proto, "tessera.label_codes", text.c_str());
    writeProto(proto, path("bad.onnx"));
    auto refused = readOnnxInfo(path("bad.onnx"));
    ASSERT_FALSE(refused.ok()) << text;
    EXPECT_TRUE(contains(refused.error().message, expected)) << refused.error().message;
  }
}

TEST_F(OnnxModelTest, MissingOrMalformedMetadataNamesTheKey) {
  const onnx::ModelProto original = readProto(exportSmall("model.onnx", small()));
  struct Case {
    const char* key;
    const char* value;
    const char* expected;
  };
  const Case cases[] = {
      {"tessera.labels", nullptr, "tessera.labels: missing"},
      {"tessera.architecture", "{\"input_channels\": 3, \"classes\": ", "not valid JSON"},
      {"tessera.architecture",
       "{\"input_channels\":3,\"classes\":4,\"base_width\":4,\"attention_heads\":2,"
       "\"deep_supervision\":false,\"bn_eps\":0.001}",
       "missing \"levels\""},
      {"tessera.labels", "[{\"value\":0,\"name\":\"a\",\"color\":[1,2]}]", "color"},
      {"tessera.input_normalization", "[1, 2]", "expected a JSON object"},
      {"tessera.context_slices", "5", "input channels"},
      {"tessera.block_size", "sixteen", "not an integer"},
      {"tessera.format_version", "2", "format version"},
  };
  for (const Case& c : cases) {
    onnx::ModelProto proto = original;
    setMetadata(proto, c.key, c.value);
    writeProto(proto, path("edited.onnx"));
    for (const Status& s :
         {importOnnx(path("edited.onnx")).status(), readOnnxInfo(path("edited.onnx")).status()}) {
      ASSERT_FALSE(s.ok()) << c.key;
      EXPECT_TRUE(contains(s.error().message, c.expected)) << c.key << ": " << s.error().message;
      if (std::string(c.key) != "tessera.format_version") {
        EXPECT_TRUE(contains(s.error().message, c.key)) << s.error().message;
      }
    }
  }
}

TEST_F(OnnxModelTest, UnsupportedOperatorIsNamed) {
  onnx::ModelProto proto = readProto(exportSmall("model.onnx", small()));
  onnx::GraphProto* g = proto.mutable_graph();
  // enc0.relu1 → LeakyRelu → enc0.conv2
  for (auto& n : *g->mutable_node())
    if (n.name() == "enc0.conv2") n.set_input(0, "enc0.leaky");
  onnx::NodeProto* leaky = g->add_node();
  leaky->set_op_type("LeakyRelu");
  leaky->set_name("enc0.leaky");
  leaky->add_input("enc0.relu1");
  leaky->add_output("enc0.leaky");
  // Keep the topological order: move the new node right after enc0.relu1.
  int relu = 0;
  while (g->node(relu).name() != "enc0.relu1") ++relu;
  for (int i = g->node_size() - 1; i > relu + 1; --i) g->mutable_node()->SwapElements(i, i - 1);
  onnx::checker::check_model(proto);
  writeProto(proto, path("leaky.onnx"));
  Result<Model> imported = importOnnx(path("leaky.onnx"));
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.error().code, StatusCode::kUnsupported);
  EXPECT_EQ(imported.error().message,
            "node enc0.leaky uses operator LeakyRelu, which Tessera does not run");
}

TEST_F(OnnxModelTest, InitializerShapeMismatchIsNamed) {
  onnx::ModelProto proto = readProto(exportSmall("model.onnx", small()));
  for (auto& t : *proto.mutable_graph()->mutable_initializer())
    if (t.name() == "enc0.conv1.weight") {  // (4, 3, 3, 3) → (4, 3, 1, 9), same data
      t.set_dims(2, 1);
      t.set_dims(3, 9);
    }
  writeProto(proto, path("reshaped.onnx"));
  Result<Model> imported = importOnnx(path("reshaped.onnx"));
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.error().code, StatusCode::kCorruptData);
  EXPECT_EQ(imported.error().message,
            "initializer enc0.conv1.weight has shape [4, 3, 1, 9], expected [4, 3, 3, 3]");

  proto = readProto(path("model.onnx"));
  for (auto& t : *proto.mutable_graph()->mutable_initializer())
    if (t.name() == "enc1.bn1.bias") t.mutable_raw_data()->resize(4);
  writeProto(proto, path("short_data.onnx"));
  imported = importOnnx(path("short_data.onnx"));
  ASSERT_FALSE(imported.ok());
  EXPECT_TRUE(contains(imported.error().message, "initializer enc1.bn1.bias holds 1 values"))
      << imported.error().message;

  // Dims claiming 2^35 values (256 GB) with 4 present: refused, not allocated.
  proto = readProto(path("model.onnx"));
  for (auto& t : *proto.mutable_graph()->mutable_initializer())
    if (t.name() == "att.merge_shape") t.set_dims(0, std::int64_t{1} << 35);
  writeProto(proto, path("huge.onnx"));
  imported = importOnnx(path("huge.onnx"));
  ASSERT_FALSE(imported.ok());
  EXPECT_TRUE(contains(imported.error().message, "att.merge_shape")) << imported.error().message;
}

TEST_F(OnnxModelTest, DifferentGraphIsExplained) {
  onnx::ModelProto proto = readProto(exportSmall("model.onnx", small()));
  for (auto& n : *proto.mutable_graph()->mutable_node())
    if (n.name() == "dec0.concat") {  // [skip, up] instead of [up, skip]
      const std::string first = n.input(0);
      n.set_input(0, n.input(1));
      n.set_input(1, first);
    }
  writeProto(proto, path("swapped.onnx"));
  Result<Model> imported = importOnnx(path("swapped.onnx"));
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.error().code, StatusCode::kUnsupported);
  EXPECT_TRUE(contains(imported.error().message, "not the U-Net its metadata describes"));
  EXPECT_TRUE(contains(imported.error().message, "ConvTranspose")) << imported.error().message;

  // Metadata claiming more attention heads than the graph's reshapes use.
  proto = readProto(path("model.onnx"));
  setMetadata(proto, "tessera.architecture",
              "{\"input_channels\":3,\"classes\":4,\"base_width\":4,\"levels\":2,"
              "\"attention_heads\":4,\"deep_supervision\":false,\"bn_eps\":0.001}");
  writeProto(proto, path("heads.onnx"));
  imported = importOnnx(path("heads.onnx"));
  ASSERT_FALSE(imported.ok());
  EXPECT_TRUE(contains(imported.error().message, "att.heads_shape")) << imported.error().message;
}

TEST_F(OnnxModelTest, FoldedAndExternalDataFilesAreRefused) {
  ExportOptions folded = small();
  folded.foldBatchNorm = true;
  Result<Model> imported = importOnnx(exportSmall("folded.onnx", folded));
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.error().code, StatusCode::kUnsupported);
  EXPECT_TRUE(contains(imported.error().message, "batch norm folded"));

  onnx::ModelProto proto = readProto(exportSmall("model.onnx", small()));
  for (auto& t : *proto.mutable_graph()->mutable_initializer())
    if (t.name() == "bott.conv1.weight") {
      t.clear_raw_data();
      t.set_data_location(onnx::TensorProto::EXTERNAL);
      auto* location = t.add_external_data();
      location->set_key("location");
      location->set_value("model.onnx.data");
    }
  writeProto(proto, path("external.onnx"));
  imported = importOnnx(path("external.onnx"));
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.error().code, StatusCode::kUnsupported);
  EXPECT_TRUE(contains(imported.error().message, "external data file"));
  EXPECT_TRUE(contains(imported.error().message, "bott.conv1.weight"));
}

}  // namespace
}  // namespace tessera::models
