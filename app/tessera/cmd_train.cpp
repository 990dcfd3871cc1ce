#include <cstdio>

#include "app/cli/console_progress.h"
#include "app/cli/interrupt.h"
#include "app/tessera/commands.h"
#include "models/train/train_settings.h"
#include "models/train/trainer.h"

namespace tessera::cli {

int runTrain(const Args& args) {
  ArgParser p("train", "Train a segmentation model on synthetic phantoms or CT/label pairs.");
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
      "checkpoint and stops; the same command with --resume continues exactly.");
  int exit = kExitOk;
  if (!parseOrExit(p, args, &exit)) return exit;
  if (!p.has("out")) {
    std::fprintf(stderr, "tessera: error: train needs --out DIR (see --help)\n");
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
