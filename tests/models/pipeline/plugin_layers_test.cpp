// Layers from plugins: the two example layers (examples/plugins/group_norm,
// window_attention) against finite differences and across backends, in a
// U-Net that trains, is saved and read back, and runs dense and sparse in
// the inference engine; layers that disagree or fail.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "models/backend/backend.h"
#include "models/backend/plugin_layer.h"
#include "models/infer/inference_engine.h"
#include "models/infer/segmenter.h"
#include "models/io/onnx_model.h"
#include "models/net/unet_layers.h"
#include "models/pipeline/plugins.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tensor_util.h"

namespace tessera::models {
namespace {

using testing::dot;
using testing::gradientError;
using testing::randomTensor;

const std::string kPlugins = TESSERA_EXAMPLE_PLUGIN_DIR;

const tessera_layer& loadLayer(const std::string& name) {
  auto registry = PluginRegistry::load({kPlugins + "/" + name});
  EXPECT_TRUE(registry.ok()) << registry.error().toString();
  const tessera_layer* layer = findPluginLayer(name);
  if (!layer) std::abort();  // the plugin is part of the build
  return *layer;
}

struct LayerCase {
  const char* name;
  Shape shape;  // 10×10 pixels: the attention's second windows are cut short
};

class ExampleLayer : public ::testing::TestWithParam<LayerCase> {};

std::vector<Tensor> randomParameters(const tessera_layer& layer, std::int64_t channels) {
  auto declared = pluginLayerParameters(layer, channels);
  EXPECT_TRUE(declared.ok()) << declared.error().toString();
  std::vector<Tensor> values;
  std::uint64_t seed = 100;
  for (const tessera_layer_parameter& p : *declared)
    values.push_back(randomTensor({p.dims[0], p.dims[1], p.dims[2], p.dims[3]}, ++seed, 0.5f));
  return values;
}

std::vector<const Tensor*> pointers(const std::vector<Tensor>& values) {
  std::vector<const Tensor*> p;
  for (const Tensor& t : values) p.push_back(&t);
  return p;
}

TEST_P(ExampleLayer, GradientsMatchFiniteDifferences) {
  const tessera_layer& layer = loadLayer(GetParam().name);
  const Shape shape = GetParam().shape;
  Tensor x = randomTensor(shape, 1);
  std::vector<Tensor> params = randomParameters(layer, shape.c);
  const Tensor r = randomTensor(shape, 2);
  auto reference = makeReferenceBackend();
  auto loss = [&] { return dot(reference->pluginLayer(layer, x, pointers(params)), r); };
  Tensor dx;
  std::vector<Tensor> dparams;
  reference->pluginLayerBackward(layer, x, pointers(params), r, &dx, &dparams);
  ASSERT_TRUE(takePluginLayerFailure().ok());
  EXPECT_LT(gradientError(x, dx, loss, 1e-2f, 7), 2e-2) << "input";
  ASSERT_EQ(dparams.size(), params.size());
  for (std::size_t i = 0; i < params.size(); ++i)
    EXPECT_LT(gradientError(params[i], dparams[i], loss, 1e-2f, 5), 2e-2) << "parameter " << i;
}

TEST_P(ExampleLayer, CpuBackendMatchesTheReferenceOnBlockedActivations) {
  const tessera_layer& layer = loadLayer(GetParam().name);
  const Shape shape = GetParam().shape;
  const Tensor x = randomTensor(shape, 3);
  const std::vector<Tensor> params = randomParameters(layer, shape.c);
  const Tensor dy = randomTensor(shape, 4);
  auto reference = makeReferenceBackend();
  auto cpu = makeCpuBackend();
  const Tensor yr = reference->pluginLayer(layer, x, pointers(params));
  const Tensor yc = cpu->toNCHW(cpu->pluginLayer(layer, cpu->fromNCHW(x), pointers(params)));
  EXPECT_LT(maxRelativeDifference(yc, yr), 1e-4);
  Tensor dxr, dxc;
  std::vector<Tensor> dpr, dpc;
  reference->pluginLayerBackward(layer, x, pointers(params), dy, &dxr, &dpr);
  cpu->pluginLayerBackward(layer, cpu->fromNCHW(x), pointers(params), cpu->fromNCHW(dy), &dxc,
                           &dpc);
  ASSERT_TRUE(takePluginLayerFailure().ok());
  EXPECT_LT(maxRelativeDifference(cpu->toNCHW(dxc), dxr), 1e-4);
  ASSERT_EQ(dpc.size(), dpr.size());
  for (std::size_t i = 0; i < dpr.size(); ++i)
    EXPECT_LT(maxRelativeDifference(dpc[i], dpr[i]), 1e-4) << "parameter " << i;
}

// 24 channels: the blocked layout pads them to 32.
INSTANTIATE_TEST_SUITE_P(Plugins, ExampleLayer,
                         ::testing::Values(LayerCase{"group_norm", {2, 24, 10, 10}},
                                           LayerCase{"window_attention", {2, 24, 10, 10}}),
                         [](const auto& info) { return std::string(info.param.name); });

ModelInfo pluginModelInfo() {
  ModelInfo info;
  UNetConfig& a = info.architecture;
  a.inputChannels = 3;
  a.classes = 3;
  a.baseWidth = 16;
  a.levels = 2;
  a.attentionHeads = 0;
  a.pluginLayers = {{"group_norm", LayerPlace::kStages},
                    {"window_attention", LayerPlace::kBottleneck}};
  for (int c = 0; c < 3; ++c)
    info.labels.labels.push_back({std::uint8_t(c), "c" + std::to_string(c), {}});
  return info;
}

TEST(PluginLayers, TheyTakeTheirPlacesInTheUNet) {
  loadLayer("group_norm");
  loadLayer("window_attention");
  const std::vector<Layer> layers = unetLayers(pluginModelInfo().architecture);
  std::vector<std::string> names;
  for (const Layer& l : layers)
    if (l.kind == LayerKind::kPlugin) names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"enc0.group_norm", "enc1.group_norm",
                                             "bott.group_norm", "bott.window_attention",
                                             "dec1.group_norm", "dec0.group_norm"}));
  for (const Layer& l : layers) {
    if (l.name == "enc0.group_norm") {
      ASSERT_EQ(l.parameters.size(), 2u);
      EXPECT_EQ(l.parameters[0].name, "enc0.group_norm.weight");
      EXPECT_TRUE(l.stageOutput);
    }
    if (l.name == "enc0.conv2") {
      EXPECT_FALSE(l.stageOutput);
    }
    if (l.name == "dec0.concat") {
      EXPECT_EQ(layers[l.inputs[1]].name, "enc0.group_norm");
    }
    if (l.name == "bott.window_attention") {
      EXPECT_EQ(l.parameters[0].shape, (Shape{192, 64, 1, 1}));
    }
  }
}

TEST(PluginLayers, ANetworkWithThemTrainsAlikeOnBothBackendsAndRunsDenseAndSparse) {
  loadLayer("group_norm");
  loadLayer("window_attention");
  auto model = makeModel(pluginModelInfo(), 7);
  ASSERT_TRUE(model.ok()) << model.error().toString();
  UNet& net = *model->net;

  // One training step on each backend: same loss, same gradients.
  const Tensor input = randomTensor({2, 3, 32, 32}, 5);
  Tensor labels = Tensor::zeros({2, 1, 32, 32});
  for (std::int64_t i = 0; i < labels.shape().count(); ++i)
    labels.data()[i] = static_cast<float>((i / 7) % 3);
  auto cpu = makeCpuBackend();
  auto reference = makeReferenceBackend();
  TrainStepOptions options;
  options.updateRunningStats = false;
  net.parameters().zeroGrad();
  const double cpuLoss = net.trainStep(*cpu, input, labels, options).loss;
  std::vector<Tensor> cpuGrads;
  for (auto& p : net.parameters().all()) cpuGrads.push_back(p->grad.clone());
  net.parameters().zeroGrad();
  const double referenceLoss = net.trainStep(*reference, input, labels, options).loss;
  ASSERT_TRUE(takePluginLayerFailure().ok());
  EXPECT_NEAR(cpuLoss, referenceLoss, 1e-4 * std::abs(referenceLoss));
  std::size_t k = 0;
  for (auto& p : net.parameters().all()) {
    if (p->trainable) {
      EXPECT_LT(maxRelativeDifference(cpuGrads[k], p->grad), 1e-3) << p->name;
    }
    ++k;
  }
  const Parameter* qkv = net.parameters().find("bott.window_attention.qkv_weight");
  ASSERT_NE(qkv, nullptr);
  double norm = 0;
  for (std::int64_t i = 0; i < qkv->grad.shape().count(); ++i)
    norm += std::abs(qkv->grad.data()[i]);
  EXPECT_GT(norm, 0.0) << "the plugin layer's parameters get gradients";

  // The engine with every block active computes the network's logits.
  const int size = 64;
  std::vector<std::int16_t> slice(static_cast<std::size_t>(size) * size);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      slice[y * size + x] = static_cast<std::int16_t>(
          (x - 32) * (x - 32) + (y - 30) * (y - 30) < 400 ? 40 + 30 * ((x + y) % 5) : -1000);
  std::vector<const std::int16_t*> slices(3, slice.data());
  auto engine = infer::InferenceEngine::create(*model, size, size);
  ASSERT_TRUE(engine.ok()) << engine.error().toString();
  std::vector<std::uint8_t> out(slice.size());
  std::vector<float> logits(3 * slice.size());
  BlockMask all((*engine)->grid(), true);
  (*engine)->run(slices, all, out.data(), nullptr, logits.data());
  Tensor x = Tensor::empty({1, 3, size, size});
  for (int c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < slice.size(); ++i)
      x.data()[c * slice.size() + i] = model->info.input.apply(slice[i]);
  const Tensor expected = net.forward(*cpu, x);
  double worst = 0, scale = 1e-3;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(logits[i] - expected.data()[i])));
    scale = std::max(scale, static_cast<double>(std::abs(expected.data()[i])));
  }
  EXPECT_LT(worst / scale, 1e-4);

  // Sparse: the body's blocks only; their outputs are finite.
  BlockMask body((*engine)->grid(), false);
  for (int by = 0; by < 4; ++by)
    for (int bx = 0; bx < 4; ++bx) body.set(bx, by, bx >= 1 && bx <= 2 && by >= 1 && by <= 2);
  infer::SliceStats stats;
  (*engine)->run(slices, body, out.data(), &stats, logits.data());
  ASSERT_TRUE(takePluginLayerFailure().ok());
  EXPECT_LT(stats.flops, stats.denseFlops);
  EXPECT_TRUE(std::isfinite(logits[32 * size + 32]));
  EXPECT_TRUE(std::isnan(logits[0])) << "inactive pixels are not computed";
}

TEST(PluginLayers, ModelFilesNameTheirLayersAndReadBackTheSame) {
  loadLayer("group_norm");
  loadLayer("window_attention");
  auto model = makeModel(pluginModelInfo(), 11);
  ASSERT_TRUE(model.ok()) << model.error().toString();
  tessera::testing::TempDir dir;
  const std::string path = dir / "plugins.onnx";
  ExportOptions options;
  options.includeTrainingHeads = true;
  ASSERT_TRUE(exportOnnx(*model, path, options).ok());
  auto info = readOnnxInfo(path);
  ASSERT_TRUE(info.ok()) << info.error().toString();
  EXPECT_EQ(info->architecture.pluginLayers, model->info.architecture.pluginLayers);
  auto read = importOnnx(path);
  ASSERT_TRUE(read.ok()) << read.error().toString();
  for (auto& p : model->net->parameters().all()) {
    const Parameter* q = read->net->parameters().find(p->name);
    ASSERT_NE(q, nullptr) << p->name;
    EXPECT_EQ(maxAbsoluteDifference(q->value, p->value), 0.0) << p->name;
  }
}

TEST(PluginLayers, AModelNamingAnUnloadedLayerSaysWhichIsMissing) {
  // The registry is process-wide and ctest may run this test alone: load the
  // layers that do exist so that only the unknown one is reported missing.
  loadLayer("group_norm");
  loadLayer("window_attention");
  ModelInfo info = pluginModelInfo();
  info.architecture.pluginLayers.push_back({"no_such_layer", LayerPlace::kStages});
  auto model = makeModel(info, 1);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("no loaded plugin provides: no_such_layer (load their "
                                       "plugins with --plugins DIR or TESSERA_PLUGIN_PATH"),
            std::string::npos)
      << model.error().message;
}

TEST(PluginLayers, ALayerWhoseImplementationsDisagreeIsRefused) {
  auto registry =
      PluginRegistry::load({std::string(TESSERA_TEST_PLUGIN_DIR) + "/disagreeing_layer"});
  ASSERT_FALSE(registry.ok());
  EXPECT_NE(registry.error().message.find("reference and CPU implementations disagree"),
            std::string::npos)
      << registry.error().message;
}

TEST(PluginLayers, ALayerFailingAtRunTimeFailsTheSegmentationWithItsMessage) {
  auto registry = PluginRegistry::load({std::string(TESSERA_TEST_PLUGIN_DIR) + "/failing_layer"});
  ASSERT_TRUE(registry.ok()) << registry.error().toString();
  ModelInfo info = pluginModelInfo();
  info.architecture.pluginLayers = {{"twice", LayerPlace::kStages}};
  auto model = makeModel(info, 1);
  ASSERT_TRUE(model.ok()) << model.error().toString();
  // 64 pixels wide at level 0: the layer refuses inputs wider than 32.
  auto engine = infer::InferenceEngine::create(*model, 64, 64);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.error().message.find("deliberately failing on 64 pixels"), std::string::npos)
      << engine.error().message;
  EXPECT_TRUE(takePluginLayerFailure().ok()) << "the failure is taken once";
  // 32 pixels work.
  auto small = infer::InferenceEngine::create(*model, 32, 32);
  EXPECT_TRUE(small.ok()) << small.error().toString();
}

}  // namespace
}  // namespace tessera::models
