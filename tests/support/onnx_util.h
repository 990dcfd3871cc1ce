// Small models with every parameter randomised (batch-norm statistics and
// attention included, so that no part of the network is an identity and a
// wrong import shows in the logits), shared by the model-file tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>

#include "models/net/model.h"

namespace tessera::models::testing {

inline UNetConfig smallOnnxConfig() {
  UNetConfig c;
  c.inputChannels = 3;
  c.classes = 4;
  c.baseWidth = 4;
  c.levels = 2;
  c.attentionHeads = 2;  // d = 8: sqrt(d) is not a power of two
  c.deepSupervision = true;
  c.bnEps = 1e-3f;
  return c;
}

inline ModelInfo smallOnnxInfo(const UNetConfig& config = smallOnnxConfig()) {
  ModelInfo info;
  info.name = "test-unet";
  info.version = "3.1";
  info.description = "small network for model-file tests, \"quoted\" and ünïcode";
  info.architecture = config;
  for (int i = 0; i < config.classes; ++i)
    info.labels.labels.push_back(
        {static_cast<std::uint8_t>(i),
         "tissue_" + std::to_string(i),
         {static_cast<std::uint8_t>(10 * i), static_cast<std::uint8_t>(255 - i),
          static_cast<std::uint8_t>(7 + i)}});
  info.input = {-900.5f, 1500.0f, 40.0f, 512.0f};
  info.trainingSummary = "phantoms, seed 7";
  return info;
}

inline void randomizeParameters(UNet& net, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](double lo, double hi) {
    return lo + (hi - lo) * (static_cast<double>(rng() >> 11) / 9007199254740992.0);
  };
  for (auto& p : net.parameters().all()) {
    const std::string& n = p->name;
    Tensor& t = p->value;
    auto has = [&](const char* s) { return n.find(s) != std::string::npos; };
    const bool bn = has(".bn");
    double lo = -0.1, hi = 0.1;
    if (bn && has(".weight")) {
      lo = 0.5, hi = 1.5;
    } else if (bn && has(".running_var")) {
      lo = 0.5, hi = 1.5;
    } else if (bn) {
      lo = -0.2, hi = 0.2;
    } else if (has(".weight")) {
      const bool transposed = n.rfind("up", 0) == 0;
      const double fanIn = transposed ? double(t.n()) : double(t.c() * t.h() * t.w());
      hi = std::sqrt((has("att.") ? 3.0 : 6.0) / fanIn);
      lo = -hi;
    }
    for (std::int64_t i = 0; i < t.shape().count(); ++i)
      t.data()[i] = static_cast<float>(uniform(lo, hi));
    ++p->version;
  }
}

inline Model randomModel(const ModelInfo& info, std::uint64_t seed) {
  Result<Model> model = makeModel(info, seed);
  EXPECT_TRUE(model.ok()) << model.status().toString();
  randomizeParameters(*model->net, seed + 1);
  return std::move(model).value();
}

// A fresh directory per test, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tessera_onnx_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

}  // namespace tessera::models::testing
