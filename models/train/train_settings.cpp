#include "models/train/train_settings.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string_view>

#include "core/files.h"
#include "core/labels.h"
#include "models/io/onnx_metadata.h"
#include "models/net/unet.h"

namespace tessera::models {

const std::vector<TrainSetting>& trainSettings() {
  static const std::vector<TrainSetting> table = {
      {"out", "DIR", "output directory (logs, plot, checkpoints, model.onnx)", ""},
      {"data", "DIR", "case folders with ct.* and labels.* (default: phantoms on the fly)", ""},
      {"init", "MODEL", "fine-tune this ONNX model instead of starting from scratch", ""},
      {"resume", "", "continue from the checkpoint in --out", ""},
      {"teacher", "MODEL", "distil: also learn this model's softened outputs (KL at --temperature)",
       ""},
      {"temperature", "T", "distillation temperature (the KL is scaled by T^2)", "4"},
      {"distill-weight", "W", "weight of the distillation term next to cross-entropy + Dice", "1"},
      {"steps", "N", "optimisation steps", "2000"},
      {"batch", "N", "slices per step", "8"},
      {"crop", "PX", "training crop size (multiple of 16)", "256"},
      {"lr", "LR", "peak learning rate (AdamW)", "0.002"},
      {"min-lr", "LR", "final learning rate of the cosine schedule", "0.00002"},
      {"warmup", "N", "warm-up steps", "100"},
      {"weight-decay", "W", "AdamW weight decay", "0.0001"},
      {"dice-weight", "W", "weight of the Dice term next to cross-entropy", "1"},
      {"seed", "S", "random seed (weights, data, augmentation)", "1"},
      {"threads", "N", "CPU threads (default: all cores)", "0"},
      {"checkpointing", "MODE", "gradient checkpointing: none, stage or aggressive", "none"},
      {"half-checkpoints", "", "keep checkpointed activations as bfloat16 (less memory)", ""},
      {"base-width", "C", "channels at full resolution", "16"},
      {"levels", "L", "poolings (4: one bottleneck token per 16x16 block)", "4"},
      {"heads", "H", "bottleneck attention heads (0: none)", "8"},
      {"layers", "SPEC",
       "plugin layers: NAME@stages (after every stage) or NAME@bottleneck, comma-separated", ""},
      {"plugins", "DIRS", "folders of the plugins with those layers (absolute, ':'-separated)", ""},
      {"context", "K", "slices of 2.5D input (odd: the slice and its neighbours)", "3"},
      {"context-offset", "MM",
       "distance of the input's neighbours, interpolated at any slice spacing (0: the "
       "neighbouring slices as they are)",
       "2.5"},
      {"pool", "N", "phantom cases held in memory", "8"},
      {"pool-refresh", "N", "steps before a pooled case is replaced", "400"},
      {"head-fraction", "F", "share of head phantoms (the rest are torsos)", "0.2"},
      {"validate-every", "N", "steps between validations", "200"},
      {"checkpoint-every", "N", "steps between checkpoints", "200"},
      {"no-augment", "", "disable augmentation", ""},
      {"phantoms", "KIND",
       "phantoms to train on: classic, or realistic (scanner, contrast phase, patient, table, "
       "metal and head detail drawn per case; docs/PHANTOMS.md)",
       "classic"},
      {"spacing", "MM",
       "phantom slice spacing: one value, or MIN-MAX drawn per case (0: each family's own)", "0"},
      {"hu-shift", "HU", "augmentation: largest HU offset", "30"},
      {"augment-noise", "HU", "augmentation: largest sigma of added noise", "12"},
      {"elastic", "PX", "augmentation: RMS displacement of an elastic deformation (0: none)", "0"},
      {"backend", "NAME", "cpu or reference (slow, for checks)", "cpu"},
      {"post-processing", "FILE",
       "rules the model records and segmentation applies (JSON, docs/SDK.md)", ""},
  };
  return table;
}

namespace {

const TrainSetting* findSetting(const std::string& name) {
  for (const TrainSetting& s : trainSettings())
    if (s.name == name) return &s;
  return nullptr;
}

Error invalid(const std::string& message) {
  return Error{StatusCode::kInvalidArgument, message};
}

}  // namespace

Status TrainSettings::set(const std::string& name, const std::string& value) {
  const TrainSetting* setting = findSetting(name);
  if (!setting) {
    std::string known;
    for (const TrainSetting& s : trainSettings()) known += (known.empty() ? "" : ", ") + s.name;
    return invalid("unknown training option '" + name + "' (known: " + known + ")");
  }
  if (setting->flag() && value != "true" && value != "false" && value != "1" && value != "0")
    return invalid("--" + name + " is a flag: true or false, not '" + value + "'");
  values_[name] = value;
  return Status();
}

std::string TrainSettings::get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  const TrainSetting* setting = findSetting(name);
  return setting ? setting->defaultValue : std::string();
}

Result<TrainerOptions> TrainSettings::toTrainerOptions() const {
  auto integer = [&](const char* name, long long lo, long long hi) -> Result<long long> {
    const std::string text = get(name);
    long long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
      return invalid("--" + std::string(name) + " must be an integer, not '" + text + "'");
    if (v < lo || v > hi)
      return invalid("--" + std::string(name) + " must be between " + std::to_string(lo) + " and " +
                     std::to_string(hi) + ", not " + text);
    return v;
  };
  auto real = [&](const char* name) -> Result<double> {
    const std::string text = get(name);
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
      return invalid("--" + std::string(name) + " must be a number, not '" + text + "'");
    return v;
  };
  auto on = [&](const char* name) {
    const std::string v = get(name);
    return v == "true" || v == "1";
  };

  TrainerOptions o;
  o.outDir = get("out");
  if (o.outDir.empty()) return invalid("training needs an output directory (--out DIR)");
  o.dataDir = get("data");
  o.initModel = get("init");
  o.resume = on("resume");
  TESSERA_ASSIGN_OR_RETURN(const long long steps, integer("steps", 1, 100000000));
  TESSERA_ASSIGN_OR_RETURN(const long long batch, integer("batch", 1, 4096));
  TESSERA_ASSIGN_OR_RETURN(const long long crop, integer("crop", 32, 4096));
  TESSERA_ASSIGN_OR_RETURN(const long long warmup, integer("warmup", 0, 100000000));
  TESSERA_ASSIGN_OR_RETURN(const long long seed, integer("seed", 0, 1LL << 62));
  TESSERA_ASSIGN_OR_RETURN(const long long threads, integer("threads", 0, 1024));
  TESSERA_ASSIGN_OR_RETURN(const long long width, integer("base-width", 1, 256));
  TESSERA_ASSIGN_OR_RETURN(const long long levels, integer("levels", 1, 4));
  TESSERA_ASSIGN_OR_RETURN(const long long heads, integer("heads", 0, 64));
  TESSERA_ASSIGN_OR_RETURN(const long long context, integer("context", 1, 15));
  TESSERA_ASSIGN_OR_RETURN(const long long pool, integer("pool", 1, 1024));
  TESSERA_ASSIGN_OR_RETURN(const long long refresh, integer("pool-refresh", 0, 100000000));
  TESSERA_ASSIGN_OR_RETURN(const long long validate, integer("validate-every", 1, 100000000));
  TESSERA_ASSIGN_OR_RETURN(const long long checkpoint, integer("checkpoint-every", 1, 100000000));
  TESSERA_ASSIGN_OR_RETURN(const double lr, real("lr"));
  TESSERA_ASSIGN_OR_RETURN(const double minLr, real("min-lr"));
  TESSERA_ASSIGN_OR_RETURN(const double decay, real("weight-decay"));
  TESSERA_ASSIGN_OR_RETURN(const double diceWeight, real("dice-weight"));
  TESSERA_ASSIGN_OR_RETURN(const double headFraction, real("head-fraction"));
  TESSERA_ASSIGN_OR_RETURN(const double temperature, real("temperature"));
  TESSERA_ASSIGN_OR_RETURN(const double distillWeight, real("distill-weight"));
  TESSERA_ASSIGN_OR_RETURN(const double contextOffset, real("context-offset"));
  TESSERA_ASSIGN_OR_RETURN(const double huShift, real("hu-shift"));
  TESSERA_ASSIGN_OR_RETURN(const double augmentNoise, real("augment-noise"));
  TESSERA_ASSIGN_OR_RETURN(const double elastic, real("elastic"));
  if (huShift < 0 || huShift > 500) return invalid("--hu-shift must be from 0 to 500 HU");
  if (augmentNoise < 0 || augmentNoise > 200)
    return invalid("--augment-noise must be from 0 to 200 HU");
  if (elastic < 0 || elastic > 64) return invalid("--elastic must be from 0 to 64 pixels");
  const std::string phantoms = get("phantoms");
  if (phantoms != "classic" && phantoms != "realistic")
    return invalid("--phantoms must be classic or realistic, not '" + phantoms + "'");
  double spacingMin = 0, spacingMax = 0;
  {
    const std::string text = get("spacing");
    const std::size_t dash = text.find('-', 1);
    auto number = [](std::string_view t, double* v) {
      const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *v);
      return ec == std::errc() && end == t.data() + t.size() && std::isfinite(*v);
    };
    const std::string_view all(text);
    const bool parsed = dash == std::string::npos ? number(all, &spacingMin)
                                                  : number(all.substr(0, dash), &spacingMin) &&
                                                        number(all.substr(dash + 1), &spacingMax);
    if (dash == std::string::npos) spacingMax = spacingMin;
    const bool natural = parsed && spacingMin == 0 && spacingMax == 0;
    if (!natural && (!parsed || spacingMin < 0.5 || spacingMax > 10 || spacingMin > spacingMax))
      return invalid("--spacing must be 0, a spacing or MIN-MAX within 0.5-10 mm, not '" + text +
                     "'");
  }
  if (!(contextOffset >= 0 && contextOffset <= 100))
    return invalid("--context-offset must be from 0 to 100 mm, not " + get("context-offset"));
  if (temperature <= 0 || temperature > 100)
    return invalid("--temperature must be above 0 and at most 100, not " + get("temperature"));
  if (distillWeight < 0) return invalid("--distill-weight must not be negative");
  o.teacherModel = get("teacher");
  o.temperature = temperature;
  o.distillWeight = distillWeight;
  if (!parseCheckpointing(get("checkpointing"), &o.checkpointing))
    return invalid("--checkpointing must be none, stage or aggressive");
  if (context % 2 == 0 || crop % 16 != 0)
    return invalid("--context must be odd and --crop a multiple of 16");
  o.backend = get("backend");
  if (o.backend != "cpu" && o.backend != "reference")
    return invalid("--backend must be cpu or reference, not '" + o.backend + "'");

  o.steps = steps;
  o.batchSize = static_cast<int>(batch);
  o.sampler.crop = static_cast<int>(crop);
  o.sampler.augment = !on("no-augment");
  o.sampler.maxHuShift = huShift;
  o.sampler.maxNoiseHu = augmentNoise;
  o.sampler.elasticPx = elastic;
  o.phantoms.realistic = phantoms == "realistic";
  o.phantoms.spacingMinMm = spacingMin;
  o.phantoms.spacingMaxMm = spacingMax;
  o.learningRate = lr;
  o.minLearningRate = minLr;
  o.warmupSteps = warmup;
  o.weightDecay = decay;
  o.diceWeight = diceWeight;
  o.seed = static_cast<std::uint64_t>(seed);
  o.halfStorage = on("half-checkpoints");
  o.poolSize = static_cast<int>(pool);
  o.poolRefreshSteps = refresh;
  o.validateEvery = validate;
  o.checkpointEvery = checkpoint;
  o.threads = static_cast<int>(threads);
  o.phantoms.seed = static_cast<std::uint64_t>(seed);
  o.phantoms.headFraction = headFraction;
  o.model.architecture.inputChannels = static_cast<int>(context);
  o.model.contextOffsetMm = contextOffset;
  o.model.architecture.baseWidth = static_cast<int>(width);
  o.model.architecture.levels = static_cast<int>(levels);
  o.model.architecture.attentionHeads = static_cast<int>(heads);
  TESSERA_ASSIGN_OR_RETURN(o.model.architecture.pluginLayers, parsePluginLayers(get("layers")));
  o.pluginFolders = get("plugins");
  if (const std::string rules = get("post-processing"); !rules.empty()) {
    Result<std::string> text = readTextFile(rules);
    if (!text.ok()) return text.status();
    Result<std::vector<PostProcessingRule>> parsed = postProcessingFromJson(*text);
    if (!parsed.ok()) return parsed.status().withContext(rules);
    o.postProcessing = std::move(*parsed);
  }
  o.model.labels = defaultLabelTable();
  o.model.architecture.classes = static_cast<int>(o.model.labels.labels.size());
  o.model.name = "tessera-unet";
  o.model.description = "Tessera block-sparse U-Net for CT tissue segmentation";
  std::ostringstream summary;
  summary << "tessera train";
  if (!o.initModel.empty())
    summary << " --init " << std::filesystem::path(o.initModel).filename().string();
  summary << " --steps " << steps << " --batch " << batch << " --crop " << crop << " --lr " << lr
          << " --seed " << seed;
  // A fine-tuned model keeps the architecture of the file it starts from.
  if (o.initModel.empty())
    summary << " --base-width " << width << " --levels " << levels << " --heads " << heads
            << " --context " << context << " --context-offset " << contextOffset;
  if (o.initModel.empty() && !get("layers").empty()) summary << " --layers " << get("layers");
  if (!o.teacherModel.empty())
    summary << " --teacher " << std::filesystem::path(o.teacherModel).filename().string()
            << " --temperature " << temperature << " --distill-weight " << distillWeight;
  if (huShift != 30 || augmentNoise != 12 || elastic != 0)
    summary << " --hu-shift " << huShift << " --augment-noise " << augmentNoise << " --elastic "
            << elastic;
  if (o.dataDir.empty() && (o.phantoms.realistic || spacingMax > 0))
    summary << " --phantoms " << phantoms << " --spacing " << get("spacing");
  summary << " on " << (o.dataDir.empty() ? std::string("synthetic phantoms") : o.dataDir);
  o.model.trainingSummary = summary.str();
  return o;
}

}  // namespace tessera::models
