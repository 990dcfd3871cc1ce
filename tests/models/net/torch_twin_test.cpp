// The PyTorch twin (tools/torch) against Tessera: same file, same logits;
// and a file written by torch.onnx.export imports into Tessera. Needs
// Debian's /usr/bin/python3 with torch and onnx; skips cleanly without.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "models/io/onnx_model.h"
#include "tests/support/onnx_util.h"
#include "tests/support/tensor_util.h"

namespace tessera::models {
namespace {
using testing::randomModel;
using testing::randomTensor;
using testing::smallOnnxInfo;

constexpr const char* kPython = "/usr/bin/python3";

std::string toolPath(const char* name) {
  return std::string(TESSERA_SOURCE_DIR) + "/tools/torch/" + name;
}

// Runs a shell command; returns its exit status and fills `output` with
// stdout and stderr.
int run(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buffer[4096];
  std::string text;
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) text.append(buffer, n);
  const int status = ::pclose(pipe);
  if (output) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

// .npy version 1.0, little-endian float32, C order.
void writeNpy(const std::string& path, const Tensor& t) {
  std::ostringstream shape;
  shape << "(" << t.n() << ", " << t.c() << ", " << t.h() << ", " << t.w() << ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape.str() + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t length = static_cast<std::uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&length), 2);
  out << header;
  out.write(reinterpret_cast<const char*>(t.data()), t.shape().count() * 4);
}

// Reads a float32 (N, C, H, W) .npy as written by numpy.save.
Tensor readNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    ADD_FAILURE() << path << " is not a .npy file";
    return Tensor();
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t length = 0, start = 0;
  if (major == 1) {
    length = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    start = 10;
  } else {
    std::uint32_t l = 0;
    std::memcpy(&l, bytes.data() + 8, 4);
    length = l;
    start = 12;
  }
  const std::string header = bytes.substr(start, length);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos) << header;
  EXPECT_NE(header.find("'fortran_order': False"), std::string::npos) << header;
  const std::size_t open = header.find("'shape': (");
  std::vector<std::int64_t> dims;
  std::istringstream shape(header.substr(open + 10, header.find(')', open) - open - 10));
  for (std::string item; std::getline(shape, item, ',');)
    if (item.find_first_not_of(' ') != std::string::npos) dims.push_back(std::stoll(item));
  if (dims.size() != 4) {
    ADD_FAILURE() << "expected a 4-D array: " << header;
    return Tensor();
  }
  Tensor t = Tensor::zeros({dims[0], dims[1], dims[2], dims[3]});
  const std::size_t data = start + length;
  EXPECT_EQ(bytes.size() - data, static_cast<std::size_t>(t.shape().count() * 4));
  std::memcpy(t.data(), bytes.data() + data,
              std::min<std::size_t>(bytes.size() - data, t.shape().count() * 4));
  return t;
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
