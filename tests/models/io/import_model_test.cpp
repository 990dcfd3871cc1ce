// tessera import-model against PyTorch: networks of the kinds labs bring
// (tests/models/io/torch_foreign_nets.py, random weights, exported with
// torch.onnx.export) import, and Tessera's logits on the same HU values are
// PyTorch's within 1e-4 (relative to max(1, |x|)); the one laid out as
// Tessera's U-Net becomes a native model whose block-sparse engine with
// every block active equals the dense graph. Unsupported graphs, wrong
// labels or context, and corrupt files are refused and write nothing.
// Needs /usr/bin/python3 with torch; skips cleanly without.
#include "models/io/import_model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/blocks.h"
#include "core/image.h"
#include "models/infer/inference_engine.h"
#include "models/infer/segmenter.h"
#include "models/io/onnx_model.h"
#include "tests/support/onnx_util.h"
#include "tests/support/torch_util.h"

namespace tessera::models {
namespace {
namespace fs = std::filesystem;
using testing::kPython;
using testing::quote;
using testing::readNpy;
using testing::run;

class ImportModelTest : public ::testing::Test {
 protected:
  // The networks are built once for the whole suite (two seconds of PyTorch).
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("tessera_import_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    if (run(std::string(kPython) + " -c 'import torch, numpy, onnx'", &skipReason_) != 0) return;
    std::string output;
    const std::string script =
        std::string(TESSERA_SOURCE_DIR) + "/tests/models/io/torch_foreign_nets.py";
    built_ =
        run(std::string(kPython) + " " + quote(script) + " " + quote(dir_.string()), &output) == 0;
    if (!built_) buildOutput_ = output;
    skipReason_.clear();
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void SetUp() override {
    if (!skipReason_.empty())
      GTEST_SKIP() << kPython
                   << " cannot import torch, numpy and onnx (Debian python3-torch, python3-onnx): "
                   << skipReason_;
    ASSERT_TRUE(built_) << buildOutput_;
  }

  static std::string path(const std::string& name) { return (dir_ / name).string(); }

  static ImportSettings settings(const std::string& network) {
    ImportSettings s;
    auto labels = readLabelsFile(path(network + ".labels.json"));
    EXPECT_TRUE(labels.ok()) << labels.status().toString();
    if (labels.ok()) s.labels = *labels;
    s.huMin = -1000.0f;
    s.huMax = 1000.0f;
    return s;
  }

  // Tessera's logits for the network's test slice (1, classes, H, W), from
  // the engine that `tessera segment` runs.
  static Tensor tesseraLogits(const Model& model, const Tensor& hu) {
    const int w = static_cast<int>(hu.w()), h = static_cast<int>(hu.h());
    auto engine = infer::InferenceEngine::create(model, w, h);
    EXPECT_TRUE(engine.ok()) << engine.status().toString();
    if (!engine.ok()) return Tensor();
    std::vector<std::vector<std::int16_t>> slices(hu.c());
    std::vector<const std::int16_t*> pointers;
    for (std::int64_t c = 0; c < hu.c(); ++c) {
      for (std::int64_t i = 0; i < hu.h() * hu.w(); ++i)
        slices[c].push_back(static_cast<std::int16_t>(hu.data()[c * hu.h() * hu.w() + i]));
      pointers.push_back(slices[c].data());
    }
    const BlockMask all((*engine)->grid(), true);
    std::vector<std::uint8_t> labels(static_cast<std::size_t>(w) * h);
    Tensor logits = Tensor::zeros({1, model.info.architecture.classes, hu.h(), hu.w()});
    (*engine)->run(pointers, all, labels.data(), nullptr, logits.data());
    return logits;
  }

  static fs::path dir_;
  static bool built_;
  static std::string skipReason_, buildOutput_;
};
fs::path ImportModelTest::dir_;
bool ImportModelTest::built_ = false;
std::string ImportModelTest::skipReason_, ImportModelTest::buildOutput_;

struct DenseCase {
  const char* network;
  const char* reason;  // why sparse is not available
};

void PrintTo(const DenseCase& c, std::ostream* os) {
  *os << c.network;
}

class ImportsDense : public ImportModelTest, public ::testing::WithParamInterface<DenseCase> {};

TEST_P(ImportsDense, LogitsMatchPyTorchAndSparseIsRefusedWithTheReason) {
  const DenseCase& c = GetParam();
  const std::string out = path(std::string(c.network) + ".tessera.onnx");
  auto report =
      importForeignModel(path(std::string(c.network) + ".onnx"), out, settings(c.network));
  ASSERT_TRUE(report.ok()) << report.status().toString();
  EXPECT_FALSE(report->sparse);
  EXPECT_NE(report->denseOnlyReason.find(c.reason), std::string::npos) << report->denseOnlyReason;

  auto model = importOnnx(out);
  ASSERT_TRUE(model.ok()) << model.status().toString();
  EXPECT_TRUE(model->info.graphNetwork);
  ASSERT_NE(model->graph, nullptr);
  const Tensor hu = readNpy(path(std::string(c.network) + ".hu.npy"));
  const Tensor expected = readNpy(path(std::string(c.network) + ".logits.npy"));
  const Tensor logits = tesseraLogits(*model, hu);
  ASSERT_EQ(logits.shape(), expected.shape());
  EXPECT_LE(maxRelativeDifference(logits, expected), 1e-4);

  // Segmenting: sparse is refused with the reason unless dense may stand in.
  auto shared = std::make_shared<const Model>(std::move(*model));
  Segmenter segmenter(shared);
  Geometry g;
  g.size = {hu.w(), hu.h(), hu.c()};
  Volume volume = std::move(*Volume::create(g));
  std::copy(hu.data(), hu.data() + hu.shape().count(), volume.data());
  SegmentOptions options;
  auto refused = segmenter.segment(volume, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, StatusCode::kUnsupported);
  EXPECT_NE(refused.error().message.find(c.reason), std::string::npos) << refused.error().message;
  options.denseWhenSparseUnavailable = true;
  auto dense = segmenter.segment(volume, options);
  ASSERT_TRUE(dense.ok()) << dense.status().toString();
  EXPECT_DOUBLE_EQ(dense->stats.meanActiveFraction, 1.0);
  EXPECT_GT(dense->stats.flops, 0.0);
}

INSTANTIATE_TEST_SUITE_P(Networks, ImportsDense,
                         ::testing::Values(DenseCase{"basic_unet", "instance normalisation"},
                                           DenseCase{"monai_unet", "strided convolution"},
                                           DenseCase{"plain_conv_unet", "instance normalisation"},
                                           DenseCase{"upsample_resnet", "residual additions"}),
                         [](const auto& info) { return std::string(info.param.network); });

TEST_F(ImportModelTest, TesseraLayoutRunsSparseAndEqualsTheDenseGraph) {
  auto report =
      importForeignModel(path("tessera_like.onnx"), path("native.onnx"), settings("tessera_like"));
  ASSERT_TRUE(report.ok()) << report.status().toString();
  EXPECT_TRUE(report->sparse) << report->denseOnlyReason;
  ImportSettings keep = settings("tessera_like");
  keep.keepGraph = true;
  auto kept = importForeignModel(path("tessera_like.onnx"), path("graph.onnx"), keep);
  ASSERT_TRUE(kept.ok()) << kept.status().toString();
  EXPECT_FALSE(kept->sparse);

  auto native = importOnnx(path("native.onnx"));
  auto graph = importOnnx(path("graph.onnx"));
  ASSERT_TRUE(native.ok()) << native.status().toString();
  ASSERT_TRUE(graph.ok()) << graph.status().toString();
  ASSERT_NE(native->net, nullptr);
  EXPECT_FALSE(native->info.graphNetwork);
  EXPECT_EQ(native->info.architecture.baseWidth, 16);
  EXPECT_EQ(native->info.architecture.levels, 2);

  const Tensor hu = readNpy(path("tessera_like.hu.npy"));
  const Tensor expected = readNpy(path("tessera_like.logits.npy"));
  const Tensor sparseAllActive = tesseraLogits(*native, hu);
  const Tensor denseGraph = tesseraLogits(*graph, hu);
  ASSERT_EQ(sparseAllActive.shape(), expected.shape());
  EXPECT_LE(maxRelativeDifference(sparseAllActive, expected), 1e-4);
  EXPECT_LE(maxRelativeDifference(denseGraph, expected), 1e-4);
  EXPECT_LE(maxRelativeDifference(sparseAllActive, denseGraph), 1e-4);
}

TEST_F(ImportModelTest, UnsupportedOperatorsAreListedAndNothingIsWritten) {
  const std::pair<const char*, std::vector<const char*>> cases[] = {
      {"gelu", {"Erf", "Mul", "Div"}}, {"size_based", {"Shape", "Gather", "scale_factor"}}};
  for (const auto& [network, words] : cases) {
    SCOPED_TRACE(network);
    const std::string out = path(std::string(network) + ".refused.onnx");
    auto report = importForeignModel(path(std::string(network) + ".onnx"), out, settings(network));
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.error().code, StatusCode::kUnsupported);
    for (const char* word : words)
      EXPECT_NE(report.error().message.find(word), std::string::npos) << report.error().message;
    EXPECT_FALSE(fs::exists(out));
  }
}

TEST_F(ImportModelTest, WrongLabelsContextAndCorruptFilesAreRefused) {
  const std::string out = path("refused.onnx");
  ImportSettings wrongLabels = settings("basic_unet");
  wrongLabels.labels.labels.pop_back();
  auto labels = importForeignModel(path("basic_unet.onnx"), out, wrongLabels);
  ASSERT_FALSE(labels.ok());
  EXPECT_NE(labels.error().message.find("2 labels but the network has 3 outputs"),
            std::string::npos)
      << labels.error().message;

  ImportSettings wrongContext = settings("monai_unet");
  wrongContext.contextRadius = 2;
  auto context = importForeignModel(path("monai_unet.onnx"), out, wrongContext);
  ASSERT_FALSE(context.ok());
  EXPECT_NE(context.error().message.find("takes 3 input channels"), std::string::npos)
      << context.error().message;

  std::ifstream in(path("basic_unet.onnx"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(path("truncated.onnx"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto truncated = importForeignModel(path("truncated.onnx"), out, settings("basic_unet"));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code, StatusCode::kCorruptData);
  EXPECT_FALSE(fs::exists(out));

  auto crafted = importForeignModel(path("crafted_dims.onnx"), out, settings("basic_unet"));
  ASSERT_FALSE(crafted.ok());
  EXPECT_NE(crafted.error().message.find("constant 4D tensor"), std::string::npos)
      << crafted.error().message;
  EXPECT_FALSE(fs::exists(out));

  std::ofstream(path("bad_labels.json")) << "{\"not\": \"a list\"}";
  auto badLabels = readLabelsFile(path("bad_labels.json"));
  ASSERT_FALSE(badLabels.ok());
  EXPECT_NE(badLabels.error().message.find("JSON array"), std::string::npos);
}

// A graph file whose metadata promises other channel counts than its graph.
TEST_F(ImportModelTest, TesseraChecksAnImportedGraphWhenLoadingIt) {
  auto report = importForeignModel(path("basic_unet.onnx"), path("b.onnx"), settings("basic_unet"));
  ASSERT_TRUE(report.ok()) << report.status().toString();
  auto info = readOnnxInfo(path("b.onnx"));
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->graphNetwork);
  EXPECT_NE(info->denseOnlyReason.find("instance normalisation"), std::string::npos);
  // Fine-tuning an imported graph is refused up front (trainer), and
  // exporting it as a U-Net is impossible: it has none.
  auto model = importOnnx(path("b.onnx"));
  ASSERT_TRUE(model.ok());
  EXPECT_FALSE(exportOnnx(*model, path("again.onnx")).ok());
  EXPECT_FALSE(fs::exists(path("again.onnx")));
}

}  // namespace
}  // namespace tessera::models
