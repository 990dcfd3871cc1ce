#include <cstdio>
#include <filesystem>
#include <sstream>

#include "app/cli/console_progress.h"
#include "app/cli/interrupt.h"
#include "app/tessera/commands.h"
#include "core/labels.h"
#include "core/parallel.h"
#include "models/train/trainer.h"

namespace tessera::cli {
namespace fs = std::filesystem;

int runTrain(const Args& args) {
  ArgParser p("train", "Train a segmentation model on synthetic phantoms or CT/label pairs.");
  p.option("--out", "DIR", "output directory (logs, plot, checkpoints, model.onnx)");
  p.option("--data", "DIR", "case folders with ct.* and labels.* (default: phantoms on the fly)");
  p.option("--init", "MODEL", "fine-tune this ONNX model instead of starting from scratch");
  p.flag("--resume", "continue from the checkpoint in --out");
  p.option("--steps", "N", "optimisation steps", "2000");
  p.option("--batch", "N", "slices per step", "8");
  p.option("--crop", "PX", "training crop size (multiple of 16)", "256");
  p.option("--lr", "LR", "peak learning rate (AdamW)", "0.002");
  p.option("--min-lr", "LR", "final learning rate of the cosine schedule", "0.00002");
  p.option("--warmup", "N", "warm-up steps", "100");
  p.option("--weight-decay", "W", "AdamW weight decay", "0.0001");
  p.option("--dice-weight", "W", "weight of the Dice term next to cross-entropy", "1");
  p.option("--seed", "S", "random seed (weights, data, augmentation)", "1");
  p.option("--threads", "N", "CPU threads (default: all cores)", "0");
  p.option("--checkpointing", "MODE", "gradient checkpointing: none, stage or aggressive", "none");
  p.flag("--half-checkpoints", "keep checkpointed activations as bfloat16 (less memory)");
  p.option("--base-width", "C", "channels at full resolution", "16");
  p.option("--levels", "L", "poolings (4: one bottleneck token per 16x16 block)", "4");
  p.option("--heads", "H", "bottleneck attention heads (0: none)", "8");
  p.option("--context", "K", "slices of 2.5D input (odd: the slice and its neighbours)", "3");
  p.option("--pool", "N", "phantom cases held in memory", "8");
  p.option("--pool-refresh", "N", "steps before a pooled case is replaced", "400");
  p.option("--head-fraction", "F", "share of head phantoms (the rest are torsos)", "0.2");
  p.option("--validate-every", "N", "steps between validations", "200");
  p.option("--checkpoint-every", "N", "steps between checkpoints", "200");
  p.flag("--no-augment", "disable augmentation");
  p.option("--backend", "NAME", "cpu or reference (slow, for checks)", "cpu");
  p.epilog(
      "Writes train_log.csv, validation.csv, training.png, checkpoint.onnx +\n"
      "checkpoint.state (for --resume) and model.onnx into --out. Ctrl-C saves a\n"
      "checkpoint and stops; the same command with --resume continues exactly.");
  int exit = kExitOk;
  if (!parseOrExit(p, args, &exit)) return exit;
  if (!p.has("out")) {
    std::fprintf(stderr, "tessera: error: train needs --out DIR (see --help)\n");
    return kExitUsage;
  }
  models::TrainerOptions o;
  o.outDir = p.get("out");
  o.dataDir = p.get("data");
  o.initModel = p.get("init");
  o.resume = p.has("resume");
  long long steps, batch, crop, warmup, seed, threads, width, levels, heads, context, pool, refresh,
      validate, checkpoint;
  double lr, minLr, decay, diceWeight, headFraction;
  const bool ok =
      p.getInt("steps", &steps, 1, 100000000) && p.getInt("batch", &batch, 1, 4096) &&
      p.getInt("crop", &crop, 32, 4096) && p.getInt("warmup", &warmup, 0, 100000000) &&
      p.getInt("seed", &seed, 0, (1LL << 62)) && p.getInt("threads", &threads, 0, 1024) &&
      p.getInt("base-width", &width, 1, 256) && p.getInt("levels", &levels, 1, 4) &&
      p.getInt("heads", &heads, 0, 64) && p.getInt("context", &context, 1, 15) &&
      p.getInt("pool", &pool, 1, 1024) && p.getInt("pool-refresh", &refresh, 0, 100000000) &&
      p.getInt("validate-every", &validate, 1, 100000000) &&
      p.getInt("checkpoint-every", &checkpoint, 1, 100000000) && p.getDouble("lr", &lr) &&
      p.getDouble("min-lr", &minLr) && p.getDouble("weight-decay", &decay) &&
      p.getDouble("dice-weight", &diceWeight) && p.getDouble("head-fraction", &headFraction);
  if (!ok) {
    std::fprintf(stderr, "tessera: error: %s\n", p.error().c_str());
    return kExitUsage;
  }
  if (!models::parseCheckpointing(p.get("checkpointing"), &o.checkpointing)) {
    std::fprintf(stderr, "tessera: error: --checkpointing must be none, stage or aggressive\n");
    return kExitUsage;
  }
  if (context % 2 == 0 || crop % 16 != 0) {
    std::fprintf(stderr, "tessera: error: --context must be odd and --crop a multiple of 16\n");
    return kExitUsage;
  }
  o.steps = steps;
  o.batchSize = static_cast<int>(batch);
  o.sampler.crop = static_cast<int>(crop);
  o.sampler.augment = !p.has("no-augment");
  o.learningRate = lr;
  o.minLearningRate = minLr;
  o.warmupSteps = warmup;
  o.weightDecay = decay;
  o.diceWeight = diceWeight;
  o.seed = static_cast<std::uint64_t>(seed);
  o.halfStorage = p.has("half-checkpoints");
  o.backend = p.get("backend");
  o.poolSize = static_cast<int>(pool);
  o.poolRefreshSteps = refresh;
  o.validateEvery = validate;
  o.checkpointEvery = checkpoint;
  o.phantoms.seed = static_cast<std::uint64_t>(seed);
  o.phantoms.headFraction = headFraction;
  o.model.architecture.inputChannels = static_cast<int>(context);
  o.model.architecture.baseWidth = static_cast<int>(width);
  o.model.architecture.levels = static_cast<int>(levels);
  o.model.architecture.attentionHeads = static_cast<int>(heads);
  o.model.labels = defaultLabelTable();
  o.model.architecture.classes = static_cast<int>(o.model.labels.labels.size());
  o.model.name = "tessera-unet";
  o.model.description = "Tessera block-sparse U-Net for CT tissue segmentation";
  std::ostringstream summary;
  summary << "tessera train";
  if (!o.initModel.empty()) summary << " --init " << fs::path(o.initModel).filename().string();
  summary << " --steps " << steps << " --batch " << batch << " --crop " << crop << " --lr " << lr
          << " --seed " << seed;
  // A fine-tuned model keeps the architecture of the file it starts from.
  if (o.initModel.empty())
    summary << " --base-width " << width << " --levels " << levels << " --heads " << heads
            << " --context " << context;
  summary << " on " << (o.dataDir.empty() ? std::string("synthetic phantoms") : o.dataDir);
  o.model.trainingSummary = summary.str();
  if (threads > 0) setNumThreads(static_cast<int>(threads));

  ConsoleProgress progress("train", 30.0);
  auto report = models::train(o, &progress, &interruptToken());
  progress.finish();
  if (!report.ok()) return fail(report.error());
  std::printf("trained %lld steps in %.0f s; final loss %.4f; validation mean Dice %.4f\n",
              static_cast<long long>(report->steps), report->seconds, report->finalLoss,
              report->validation.meanDice);
  std::printf("peak training memory %.0f MB (engine allocator)\nwrote %s\n",
              report->peakBytes / 1048576.0, report->modelPath.c_str());
  return kExitOk;
}

}  // namespace tessera::cli
