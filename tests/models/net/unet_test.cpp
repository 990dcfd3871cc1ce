#include "models/net/unet.h"

#include <gtest/gtest.h>

#include "core/memory.h"
#include "tests/support/tensor_util.h"

namespace tessera::models {
namespace {
using testing::randomTensor;

UNetConfig tinyConfig() {
  UNetConfig c;
  c.inputChannels = 2;
  c.classes = 3;
  c.baseWidth = 2;
  c.levels = 2;
  c.attentionHeads = 2;
  return c;
}

Tensor labelsFor(Shape input, std::uint64_t seed) {
  Tensor labels = Tensor::zeros({input.n, 1, input.h, input.w});
  std::uint64_t s = seed;
  for (std::int64_t i = 0; i < labels.shape().count(); ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    labels.data()[i] = static_cast<float>((s >> 33) % 3);
  }
  return labels;
}

TEST(UNet, ParametersFollowTheNamingScheme) {
  UNet net(tinyConfig());
  for (const char* name :
       {"enc0.conv1.weight", "enc1.bn2.running_var", "bott.conv2.weight", "att.q.weight",
        "att.o.bias", "up1.weight", "dec0.conv1.weight", "head0.bias", "head1.weight"})
    EXPECT_NE(net.parameters().find(name), nullptr) << name;
  EXPECT_EQ(net.parameters().find("dec0.conv1.weight")->value.shape(), (Shape{2, 4, 3, 3}));
  EXPECT_EQ(net.parameters().find("up0.weight")->value.shape(), (Shape{4, 2, 2, 2}));
  EXPECT_FALSE(net.parameters().find("enc0.bn1.running_mean")->trainable);
}

TEST(UNet, ConfigValidation) {
  UNetConfig c = tinyConfig();
  EXPECT_TRUE(c.validate().ok());
  c.attentionHeads = 3;  // does not divide 8 bottleneck channels
  EXPECT_FALSE(c.validate().ok());
  c = tinyConfig();
  c.classes = 1;
  EXPECT_FALSE(c.validate().ok());
}

TEST(UNet, FlopCountMatchesHandCount) {
  UNetConfig c;
  c.inputChannels = 1;
  c.classes = 2;
  c.baseWidth = 1;
  c.levels = 1;
  c.attentionHeads = 0;
  c.deepSupervision = false;
  // 4×4 input: enc0 1→1, 1→1 at 16 px; bott 1→2, 2→2 at 4 px; up 2→1 (2×2
  // kernel) at 4 px; dec0 2→1, 1→1 at 16 px; head 1→2 at 16 px.
  const double expected =
      2.0 * (9 * 16 + 9 * 16 + 18 * 4 + 36 * 4 + 8 * 4 + 18 * 16 + 9 * 16 + 2 * 16);
  EXPECT_DOUBLE_EQ(c.forwardFlops(4, 4), expected);
}

TEST(UNet, InitialisationIsDeterministic) {
  UNet a(tinyConfig()), b(tinyConfig()), c(tinyConfig());
  a.initialize(7);
  b.initialize(7);
  c.initialize(8);
  const Tensor& wa = a.parameters().find("enc1.conv2.weight")->value;
  EXPECT_EQ(maxAbsoluteDifference(wa, b.parameters().find("enc1.conv2.weight")->value), 0.0);
  EXPECT_GT(maxAbsoluteDifference(wa, c.parameters().find("enc1.conv2.weight")->value), 0.0);
  EXPECT_EQ(a.parameters().find("enc0.bn1.weight")->value.data()[0], 1.0f);
}

TEST(UNet, GradientsMatchFiniteDifferences) {
  UNet net(tinyConfig());
  net.initialize(3);
  auto backend = makeReferenceBackend();
  const Tensor input = randomTensor({2, 2, 8, 8}, 11);
  const Tensor labels = labelsFor(input.shape(), 5);
  TrainStepOptions options;
  options.headWeights = {1.0, 0.5};
  options.updateRunningStats = false;
  net.parameters().zeroGrad();
  net.trainStep(*backend, input, labels, options);
  // Probes also accumulate gradients; only their losses are used.
  auto loss = [&] { return net.trainStep(*backend, input, labels, options).loss; };
  // Gradients from the first step, kept aside (the probes below add more).
  std::vector<Tensor> analytic;
  for (auto& p : net.parameters().all())
    analytic.push_back(p->grad.defined() ? p->grad.clone() : Tensor());
  std::size_t i = 0;
  double skippedTotal = 0;
  int checked = 0;
  for (auto& p : net.parameters().all()) {
    const Tensor a = analytic[i++];
    if (!p->trainable) continue;
    SCOPED_TRACE(p->name);
    const std::int64_t stride = std::max<std::int64_t>(1, p->value.shape().count() / 4);
    double skipped = 0;
    // 5 %: float32 rounding through batch norm at this step size reaches ~2 %;
    // a wrong gradient is off by far more.
    EXPECT_LT(testing::gradientErrorSkippingKinks(p->value, a, loss, 2e-3f, stride, &skipped),
              5e-2);
    skippedTotal += skipped;
    ++checked;
  }
  // Kinks are the exception; a wrong gradient would not hide behind them.
  EXPECT_LT(skippedTotal / checked, 0.2);
}

TEST(UNet, CheckpointedGradientsEqualPlainGradients) {
  auto backend = makeReferenceBackend();
  const Tensor input = randomTensor({2, 2, 8, 8}, 21);
  const Tensor labels = labelsFor(input.shape(), 9);
  std::vector<std::vector<Tensor>> grads;
  std::vector<std::vector<float>> runningMeans;
  std::vector<double> losses;
  for (Checkpointing mode :
       {Checkpointing::kNone, Checkpointing::kStage, Checkpointing::kAggressive}) {
    UNet net(tinyConfig());
    net.initialize(4);
    net.parameters().zeroGrad();
    TrainStepOptions options;
    options.checkpointing = mode;
    options.headWeights = {1.0, 0.5};
    losses.push_back(net.trainStep(*backend, input, labels, options).loss);
    grads.emplace_back();
    for (auto& p : net.parameters().all())
      if (p->trainable) grads.back().push_back(p->grad.clone());
    const Tensor& rm = net.parameters().find("dec0.bn2.running_mean")->value;
    runningMeans.emplace_back(rm.data(), rm.data() + rm.shape().count());
  }
  for (int m = 1; m < 3; ++m) {
    SCOPED_TRACE(checkpointingName(m == 1 ? Checkpointing::kStage : Checkpointing::kAggressive));
    EXPECT_EQ(losses[m], losses[0]);
    for (std::size_t k = 0; k < grads[0].size(); ++k)
      EXPECT_EQ(maxAbsoluteDifference(grads[m][k], grads[0][k]), 0.0) << "parameter " << k;
    // Running statistics are updated once per step, never by recomputation.
    EXPECT_EQ(runningMeans[m], runningMeans[0]);
  }
}

TEST(UNet, RunningStatisticsMoveByMomentumOncePerStep) {
  UNet net(tinyConfig());
  net.initialize(1);
  auto backend = makeReferenceBackend();
  const Tensor input = randomTensor({2, 2, 8, 8}, 31, 3.0f);
  TrainStepOptions options;
  options.checkpointing = Checkpointing::kStage;
  net.parameters().zeroGrad();
  net.trainStep(*backend, input, labelsFor(input.shape(), 2), options);
  // enc0.bn1 sees conv(input): its batch mean m moves the running mean from 0 to 0.1·m.
  const Tensor conv =
      backend->conv2d(input, net.parameters().find("enc0.conv1.weight")->value, nullptr, 1, 1);
  double mean = 0;
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t i = 0; i < 64; ++i) mean += conv.at(n, 0, i / 8, i % 8);
  mean /= 128;
  EXPECT_NEAR(net.parameters().find("enc0.bn1.running_mean")->value.data()[0], 0.1 * mean, 1e-5);
}

TEST(UNet, InferenceUsesRunningStatisticsAndAttentionMask) {
  UNet net(tinyConfig());
  net.initialize(2);
  auto backend = makeReferenceBackend();
  const Tensor input = randomTensor({1, 2, 8, 8}, 41);
  const Tensor a = net.forward(*backend, input);
  EXPECT_EQ(a.shape(), (Shape{1, 3, 8, 8}));
  // Batch of one and batch of two give the same per-sample logits at inference.
  Tensor two = Tensor::zeros({2, 2, 8, 8});
  std::copy(input.data(), input.data() + input.shape().count(), two.data());
  std::copy(input.data(), input.data() + input.shape().count(), two.data() + input.shape().count());
  const Tensor b = net.forward(*backend, two);
  EXPECT_LT(maxAbsoluteDifference(b.samples(1, 1), a), 1e-6);
  // Masking bottleneck tokens changes the output.
  std::vector<std::uint8_t> mask(4, 1);
  mask[0] = 0;
  EXPECT_GT(maxAbsoluteDifference(net.forward(*backend, input, &mask), a), 0.0);
}

}  // namespace
}  // namespace tessera::models
