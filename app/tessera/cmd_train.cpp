#include <cstdio>
#include <string>

#include "app/cli/console_progress.h"
#include "app/cli/interrupt.h"
#include "app/tessera/commands.h"
#include "models/train/train_settings.h"
#include "models/train/trainer.h"

namespace tessera::cli {

namespace {

// `tessera train` and `tessera distill` take the same options; distill
// requires --teacher.
int runTraining(const Args& args, bool distill) {
  ArgParser p(distill ? "distill" : "train",
              distill ? "Train a student model on a teacher's softened outputs (knowledge "
                        "distillation) and the labels."
                      : "Train a segmentation model on synthetic phantoms or CT/label pairs.");
  // One table of options for the command line and the SDK (train_settings.h).
  for (const models::TrainSetting& s : models::trainSettings()) {
    if (s.flag())
      p.flag("--" + s.name, s.help);
    else if (s.defaultValue.empty())
      p.option("--" + s.name, s.valueName, s.help);
    else
      p.option("--" + s.name, s.valueName, s.help, s.defaultValue);
  }
  p.epilog(
      "Writes train_log.csv, validation.csv, training.png, checkpoint.onnx +\n"
      "checkpoint.state (for --resume) and model.onnx into --out. Ctrl-C saves a\n"
      "checkpoint and stops; the same command with --resume continues exactly." +
      std::string(
          distill
              ? "\n\nThe student learns T^2 * KL(teacher_T || student_T) on the full-resolution\n"
                "logits, weighted by --distill-weight, plus cross-entropy + Dice on the\n"
                "labels. A fresh student takes the teacher's labels, input normalisation\n"
                "and context slices; its architecture comes from --base-width, --levels\n"
                "and --heads. The teacher may be any model Tessera reads, imported ones too."
              : ""));
  int exit = kExitOk;
  if (!parseOrExit(p, args, &exit)) return exit;
  if (!p.has("out")) {
    std::fprintf(stderr, "tessera: error: %s needs --out DIR (see --help)\n",
                 distill ? "distill" : "train");
    return kExitUsage;
  }
  if (distill && !p.has("teacher")) {
    std::fprintf(stderr, "tessera: error: distill needs --teacher MODEL (see --help)\n");
    return kExitUsage;
  }
  models::TrainSettings settings;
  for (const models::TrainSetting& s : models::trainSettings()) {
    if (!p.has(s.name)) continue;
    if (Status set = settings.set(s.name, s.flag() ? "true" : p.get(s.name)); !set.ok()) {
      std::fprintf(stderr, "tessera: error: %s\n", set.error().message.c_str());
      return kExitUsage;
    }
  }
  auto options = settings.toTrainerOptions();
  if (!options.ok()) {
    std::fprintf(stderr, "tessera: error: %s\n", options.error().message.c_str());
    return kExitUsage;
  }
  const models::TrainerOptions& o = *options;

  ConsoleProgress progress(distill ? "distill" : "train", 30.0);
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

}  // namespace

int runTrain(const Args& args) {
  return runTraining(args, false);
}
int runDistill(const Args& args) {
  return runTraining(args, true);
}

}  // namespace tessera::cli
