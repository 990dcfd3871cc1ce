// Tessera's U-Net: 2.5D input (a slice and its neighbours as channels),
// `levels` 2×2 max-poolings (4: a 512×512 slice has a 32×32 bottleneck, one
// token per 16×16 block), two conv3×3-BN-ReLU per stage, multi-head
// self-attention among the bottleneck tokens, transposed-conv up-sampling,
// skip concatenation [up, skip], and a 1×1 output head per decoder level
// (deep supervision; head0 is the full-resolution output).
//
// Parameter names (PyTorch state_dict style), level L = 0..levels-1,
// channels(L) = baseWidth·2^L, bottleneck channels(levels):
//   enc{L}.conv{1,2}.weight, enc{L}.bn{1,2}.{weight,bias,running_mean,running_var}
//   bott.conv{1,2}.weight, bott.bn{1,2}.*
//   att.{q,k,v,o}.{weight,bias}                        (when attentionHeads > 0)
//   up{L}.{weight,bias}     ConvTranspose channels(L+1) → channels(L)
//   dec{L}.conv{1,2}.weight, dec{L}.bn{1,2}.*          conv1: 2·channels(L) → channels(L)
//   head{L}.{weight,bias}   1×1 conv channels(L) → classes (L ≥ 1 only with deep supervision)
// The layers in order, with these names and shapes, are listed once by
// unetLayers() (net/unet_layers.h); the training graph is built from that list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/backend/backend.h"
#include "models/net/parameters.h"

namespace tessera::models {

// Where a plugin layer (tessera/plugin.h) sits in the U-Net: after the
// second conv3×3-BN-ReLU of every stage (encoder levels, bottleneck, decoder
// levels), or once after the bottleneck (after its attention, if any).
enum class LayerPlace { kStages, kBottleneck };

struct PluginLayerUse {
  std::string name;  // the layer's name in its plugin
  LayerPlace place = LayerPlace::kStages;
  bool operator==(const PluginLayerUse&) const = default;
};

// "NAME@stages,NAME@bottleneck" (the order is the order within a place) ↔
// the uses; an empty text is none.
Result<std::vector<PluginLayerUse>> parsePluginLayers(const std::string& text);
std::string pluginLayersText(const std::vector<PluginLayerUse>& uses);

struct UNetConfig {
  int inputChannels = 3;
  int classes = 10;
  int baseWidth = 16;
  int levels = 4;
  int attentionHeads = 8;  // 0: no bottleneck attention
  bool deepSupervision = true;
  float bnEps = 1e-5f;
  float bnMomentum = 0.1f;  // running = (1 − m)·running + m·batch (PyTorch convention)
  // Layers from plugins, inserted where each says (parameters
  // BLOCK.NAME.PARAM, e.g. enc0.group_norm.weight). Building, training or
  // running such a network needs the plugins loaded (checkPluginLayers).
  std::vector<PluginLayerUse> pluginLayers;

  std::int64_t channels(int level) const { return std::int64_t{baseWidth} << level; }
  // Input H and W must be multiples of this.
  std::int64_t sizeMultiple() const { return std::int64_t{1} << levels; }
  Status validate() const;
  // Whether every plugin layer is loaded and takes its channels; the error
  // names the missing layers and the loaded ones.
  Status checkPluginLayers() const;
  // Multiply-adds ×2 of one forward pass on an H×W input; without deep
  // supervision, only head0 (what inference computes) is counted. Plugin
  // layers count nothing (their cost is not declared).
  double forwardFlops(std::int64_t height, std::int64_t width,
                      bool withDeepSupervision = true) const;
};

enum class Checkpointing {
  kNone,        // keep every activation for backward
  kStage,       // keep stage boundaries; recompute each stage during its backward
  kAggressive,  // keep only conv / up-conv / attention outputs; recompute the cheap
                // batch-norm, ReLU, pooling and concat outputs on demand
};
const char* checkpointingName(Checkpointing mode);
bool parseCheckpointing(const std::string& text, Checkpointing* mode);

struct TrainStepOptions {
  Checkpointing checkpointing = Checkpointing::kNone;
  double diceWeight = 1.0;
  // Loss weight of head L (index = level); missing entries count as 0.
  std::vector<double> headWeights{1.0, 0.5, 0.25, 0.125};
  bool updateRunningStats = true;
  // Stage/aggressive only: keep checkpointed activations as bfloat16.
  // Halves their memory; gradients then differ slightly from full precision.
  bool halfStorage = false;
  // Knowledge distillation: a teacher's full-resolution logits for this
  // batch, (N, classes, H, W) kNCHW, not owned; null: none. Adds
  // distillWeight · T²·KL(teacher_T ‖ student_T) on head 0 to the loss.
  const Tensor* teacherLogits = nullptr;
  double temperature = 4.0;
  double distillWeight = 1.0;
};

struct TrainStepResult {
  double loss = 0.0;               // weighted total
  std::vector<double> headLosses;  // per level
  double distillationLoss = 0.0;   // T²·KL, before its weight; 0 without a teacher
  std::int64_t peakBytes = 0;      // engine allocator peak during the step
};

class UNet {
 public:
  explicit UNet(UNetConfig config);
  const UNetConfig& config() const { return config_; }
  ParameterSet& parameters() { return params_; }
  const ParameterSet& parameters() const { return params_; }

  // He-normal conv weights, zero biases, BN γ=1 β=0, running var 1. Deterministic.
  void initialize(std::uint64_t seed);

  // One forward + loss + backward on a batch. input (N, inputChannels, H, W)
  // and labels (N, 1, H, W) class indices, both kNCHW. Adds to parameter
  // gradients (call parameters().zeroGrad() first). Updates batch-norm
  // running statistics once (never during recomputation).
  TrainStepResult trainStep(Backend& backend, const Tensor& input, const Tensor& labels,
                            const TrainStepOptions& options);

  // Inference with running statistics; returns full-resolution logits (kNCHW).
  // tokenMask restricts the bottleneck attention (per sample, bottleneck H×W).
  Tensor forward(Backend& backend, const Tensor& input,
                 const std::vector<std::uint8_t>* tokenMask = nullptr);

 private:
  UNetConfig config_;
  ParameterSet params_;
};

}  // namespace tessera::models
