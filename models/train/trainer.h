// `tessera train`: fits a U-Net on phantoms generated on the fly or on a
// folder of (CT, labels) cases. AdamW with warm-up and cosine decay,
// cross-entropy + Dice with deep supervision, class-balanced augmented 2.5D
// crops, gradient checkpointing. Writes into the output directory:
//   train_log.csv      one row per step (loss, learning rate, time, memory;
//                      with a teacher also the distillation loss)
//   validation.csv     one row per validation (Dice per label)
//   training.png       loss and validation Dice curves
//   checkpoint.onnx    + checkpoint.state: everything needed to resume
//   model.onnx         the trained model (with its deep-supervision heads,
//                      which output-driven sparsity uses)
// Deterministic for a given seed and thread count; a resumed run continues
// exactly as an uninterrupted one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "models/net/model.h"
#include "models/net/unet.h"
#include "models/train/dataset.h"

namespace tessera::models {

struct TrainerOptions {
  std::string outDir;
  std::string dataDir;    // empty: synthetic phantoms
  std::string initModel;  // fine-tune from this ONNX model instead of fresh weights
  // Knowledge distillation (`tessera distill`): a model file whose
  // full-resolution logits the student also learns, T²·KL at `temperature`
  // weighted by `distillWeight`, next to cross-entropy + Dice on the labels.
  // A Tessera U-Net or an imported network; a fresh student takes its labels,
  // input normalisation and context slices. Empty: plain training.
  std::string teacherModel;
  double temperature = 4.0;
  double distillWeight = 1.0;
  // Folders of plugins whose layers the model uses (':'-separated, absolute;
  // $TESSERA_PLUGIN_PATH's are added), loaded before the model is built.
  std::string pluginFolders;
  bool resume = false;  // continue from outDir/checkpoint.*
  ModelInfo model;      // architecture, labels, normalisation of a fresh model
  // The post-processing rules the trained model records (checked against
  // its labels). Unset: a fine-tuned model keeps its --init model's, a fresh
  // student its teacher's, a fresh model has none.
  std::optional<std::vector<PostProcessingRule>> postProcessing;
  std::uint64_t seed = 1;
  std::int64_t steps = 2000;
  int batchSize = 8;
  SamplerOptions sampler;
  double learningRate = 2e-3;
  double minLearningRate = 2e-5;
  std::int64_t warmupSteps = 100;
  double weightDecay = 1e-4;
  double diceWeight = 1.0;
  std::vector<double> headWeights{1.0, 0.5, 0.25, 0.125};
  Checkpointing checkpointing = Checkpointing::kNone;
  bool halfStorage = false;
  std::string backend = "cpu";  // "cpu" or "reference" (tests)
  int threads = 0;              // worker threads for the process; 0: leave as set
  // Data pool: cases held in memory, each replaced every `poolRefreshSteps`.
  int poolSize = 8;
  std::int64_t poolRefreshSteps = 400;
  PhantomSourceOptions phantoms;
  // Validation on held-out phantom cases (seed + 1000003) or the last cases of dataDir.
  int validationCases = 2;
  int validationSlicesPerCase = 12;
  std::int64_t validateEvery = 200;
  std::int64_t checkpointEvery = 200;
};

struct ValidationResult {
  std::int64_t step = 0;
  std::vector<double> dice;  // per class; NaN where the class is absent in both
  double meanDice = 0.0;     // over non-background classes scored
};

struct TrainerReport {
  std::int64_t steps = 0;
  double seconds = 0.0;
  double finalLoss = 0.0;
  std::int64_t peakBytes = 0;
  ValidationResult validation;
  std::string modelPath;
};

Result<TrainerReport> train(const TrainerOptions& options, ProgressSink* progress,
                            const CancelToken* cancel);

// Dice per class of the model's dense predictions on the given cases' slices.
ValidationResult validateModel(const Model& model, const std::vector<const TrainingCase*>& cases,
                               int slicesPerCase);

}  // namespace tessera::models
