// The PyTorch twin (tools/torch) against Tessera: same file, same logits;
// a file written by torch.onnx.export imports into Tessera; and the OpenCV
// DNN peer (tools/opencv) on the same file. Needs Debian's /usr/bin/python3
// with torch and onnx (and cv2 for the last); skips cleanly without.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "models/io/onnx_model.h"
#include "tests/support/onnx_util.h"
#include "tests/support/tensor_util.h"
#include "tests/support/torch_util.h"

namespace tessera::models {
namespace {
using testing::kPython;
using testing::quote;
using testing::randomModel;
using testing::randomTensor;
using testing::readNpy;
using testing::run;
using testing::smallOnnxInfo;
using testing::writeNpy;

std::string toolPath(const char* name) {
  return std::string(TESSERA_SOURCE_DIR) + "/tools/torch/" + name;
}

class TorchTwinTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::string output;
    if (run(std::string(kPython) + " -c 'import torch, onnx'", &output) != 0)
      GTEST_SKIP() << kPython << " cannot import torch and onnx (Debian python3-torch, "
                   << "python3-onnx): " << output;
  }

  Tensor referenceLogits(Model& model, const Tensor& input) {
    auto backend = makeReferenceBackend();
    return model.net->forward(*backend, input);
  }
};

TEST_F(TorchTwinTest, TwinComputesTesseraLogitsFromTheSameFile) {
  Model model = randomModel(smallOnnxInfo(), 31);
  ExportOptions options;
  options.height = options.width = 32;
  ASSERT_TRUE(exportOnnx(model, path("model.onnx"), options).ok());
  const Tensor input = randomTensor({1, 3, 32, 32}, 9, 2.0f);
  writeNpy(path("input.npy"), input);

  std::string output;
  const int status =
      run(std::string(kPython) + " " + quote(toolPath("bench_torch.py")) + " --model " +
              quote(path("model.onnx")) + " --input " + quote(path("input.npy")) + " --output " +
              quote(path("logits.npy")) + " --threads 1 --repeats 1 --warmup 0 --modes eager,jit",
          &output);
  ASSERT_EQ(status, 0) << output;
  const Tensor torchLogits = readNpy(path("logits.npy"));
  const Tensor expected = referenceLogits(model, input);
  ASSERT_EQ(torchLogits.shape(), expected.shape());
  EXPECT_LE(maxRelativeDifference(torchLogits, expected), 1e-4) << output;
  EXPECT_NE(output.find("max |jit - eager|"), std::string::npos) << output;
}

// PyTorch at its best: tcmalloc preloaded (the script re-executes itself),
// and the report says which allocator was mapped; glibc's when asked.
TEST_F(TorchTwinTest, TheBenchmarkPreloadsTcmallocAndSaysSo) {
  if (!std::ifstream("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"))
    GTEST_SKIP() << "libtcmalloc-minimal4 is not installed (scripts/setup installs it)";
  Model model = randomModel(smallOnnxInfo(), 33);
  ExportOptions options;
  options.height = options.width = 32;
  ASSERT_TRUE(exportOnnx(model, path("model.onnx"), options).ok());
  for (const char* allocator : {"auto", "tcmalloc", "glibc"}) {
    std::string output;
    const int status = run(std::string(kPython) + " " + quote(toolPath("bench_torch.py")) +
                               " --model " + quote(path("model.onnx")) +
                               " --size 32 32 --threads 1 --repeats 1 --warmup 0 --modes jit "
                               "--json --allocator " +
                               allocator,
                           &output);
    ASSERT_EQ(status, 0) << output;
    const std::string expected = std::strcmp(allocator, "glibc") == 0 ? "glibc" : "tcmalloc";
    EXPECT_NE(output.find("\"allocator\": \"" + expected + "\""), std::string::npos)
        << allocator << ": " << output;
    EXPECT_NE(output.find("\"jit_min_ms\""), std::string::npos) << output;
  }
}

// OpenCV's DNN module, the second peer of `tessera bench`, reads Tessera's
// file and computes the same logits.
TEST_F(TorchTwinTest, OpenCvDnnComputesTesseraLogitsFromTheSameFile) {
  std::string output;
  if (run(std::string(kPython) + " -c 'import cv2'", &output) != 0)
    GTEST_SKIP() << kPython << " cannot import cv2 (Debian python3-opencv): " << output;
  Model model = randomModel(smallOnnxInfo(), 34);
  ExportOptions options;
  options.height = options.width = 32;
  options.includeTrainingHeads = true;  // the coarse heads are outputs too, after "logits"
  ASSERT_TRUE(exportOnnx(model, path("model.onnx"), options).ok());
  const Tensor input = randomTensor({1, 3, 32, 32}, 10, 2.0f);
  writeNpy(path("input.npy"), input);
  const int status =
      run(std::string(kPython) + " " + quote(std::string(TESSERA_SOURCE_DIR)) +
              "/tools/opencv/bench_opencv_dnn.py --model " + quote(path("model.onnx")) +
              " --input " + quote(path("input.npy")) + " --output " + quote(path("logits.npy")) +
              " --threads 1 --repeats 1 --warmup 0 --json",
          &output);
  ASSERT_EQ(status, 0) << output;
  const Tensor logits = readNpy(path("logits.npy"));
  const Tensor expected = referenceLogits(model, input);
  ASSERT_EQ(logits.shape(), expected.shape());
  EXPECT_LE(maxRelativeDifference(logits, expected), 1e-4) << output;
  EXPECT_NE(output.find("\"best_ms\""), std::string::npos) << output;

  std::ofstream(path("broken.onnx")) << "not a model";
  EXPECT_NE(run(std::string(kPython) + " " + quote(std::string(TESSERA_SOURCE_DIR)) +
                    "/tools/opencv/bench_opencv_dnn.py --model " + quote(path("broken.onnx")) +
                    " --input " + quote(path("input.npy")) + " --json",
                &output),
            0);
  EXPECT_NE(output.find("cannot read"), std::string::npos) << output;
}

TEST_F(TorchTwinTest, TesseraImportsTheTorchExport) {
  // Random weights; and fresh ones, whose equal batch-norm vectors PyTorch
  // writes once, the others as Identity nodes.
  for (const bool fresh : {false, true}) {
    const bool heads = fresh;
    SCOPED_TRACE(fresh ? "fresh weights, training heads" : "random weights");
    Model model =
        fresh ? std::move(makeModel(smallOnnxInfo(), 5)).value() : randomModel(smallOnnxInfo(), 32);
    ExportOptions options;
    options.height = options.width = 32;
    options.includeTrainingHeads = heads;
    ASSERT_TRUE(exportOnnx(model, path("tessera.onnx"), options).ok());
    std::string output;
    const int status = run(std::string(kPython) + " " + quote(toolPath("tessera_unet.py")) +
                               " reexport " + quote(path("tessera.onnx")) + " " +
                               quote(path("torch.onnx")) + (heads ? " --training-heads" : ""),
                           &output);
    ASSERT_EQ(status, 0) << output;
    Result<ModelInfo> info = readOnnxInfo(path("torch.onnx"));
    ASSERT_TRUE(info.ok()) << info.status().toString();
    Result<Model> imported = importOnnx(path("torch.onnx"));
    ASSERT_TRUE(imported.ok()) << imported.status().toString();
    EXPECT_EQ(imported->info.name, model.info.name);
    EXPECT_EQ(imported->info.labels.labels[2].name, model.info.labels.labels[2].name);
    EXPECT_EQ(imported->net->config().deepSupervision, heads);
    // Every parameter went through PyTorch unchanged (q: fold/unfold rounding).
    for (const auto& p : imported->net->parameters().all()) {
      const Parameter* original = model.net->parameters().find(p->name);
      ASSERT_NE(original, nullptr) << p->name;
      const bool query = p->name.rfind("att.q.", 0) == 0;
      for (std::int64_t k = 0; k < p->value.shape().count(); ++k) {
        const float x = original->value.data()[k], y = p->value.data()[k];
        if (query)
          ASSERT_LE(std::abs(x - y), 2.5e-7f * std::abs(x)) << p->name;
        else
          ASSERT_EQ(x, y) << p->name << "[" << k << "]";
      }
    }
    const Tensor input = randomTensor({1, 3, 32, 32}, 10);
    EXPECT_LE(
        maxRelativeDifference(referenceLogits(*imported, input), referenceLogits(model, input)),
        1e-5);
  }
}

}  // namespace
}  // namespace tessera::models
