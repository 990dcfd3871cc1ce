// tessera eval --pred P --ref R [--json] [--labels a,b,...]
#include <cstdio>

#include "app/cli/console_progress.h"
#include "app/tessera/commands.h"
#include "core/json.h"
#include "imaging/eval/metrics.h"
#include "imaging/io/volume_io.h"

namespace tessera::cli {

int runEval(const Args& args) {
  ArgParser parser("eval",
                   "Scores a segmentation against a reference: Dice and 95 % Hausdorff distance "
                   "(mm) per label, volumes in mL, mean Dice.");
  parser.option("-p,--pred", "P", "predicted label map (.nii.gz, .nrrd, .mha, ...)");
  parser.option("-r,--ref", "R", "reference label map with the same geometry");
  parser.option("--labels", "LIST",
                "labels to score, as values or names (e.g. liver,7); default: every label "
                "present in either map");
  parser.flag("--json", "print JSON instead of a table");
  parser.flag("--dice-only", "skip the surface distances (faster on large maps)");
  parser.epilog(
      "HD95 is the larger of the two directed 95th percentiles of distances between surface\n"
      "voxels. A label absent from both maps is not scored; a label absent from one scores\n"
      "Dice 0 and an infinite HD95 (null in JSON). See docs/QUANTIFICATION.md.");
  int exitCode = kExitOk;
  if (!parseOrExit(parser, args, &exitCode)) return exitCode;
  if (parser.get("pred").empty() || parser.get("ref").empty()) {
    std::fprintf(stderr, "tessera: error: eval needs --pred and --ref\n(see --help)\n");
    return kExitUsage;
  }
  const std::string predPath = parser.get("pred"), refPath = parser.get("ref");

  auto reference = imaging::readLabelMap(refPath);
  if (!reference.ok()) return fail(reference.error());
  auto prediction = imaging::readLabelMap(predPath);
  if (!prediction.ok()) return fail(prediction.error());

  imaging::EvaluationOptions options;
  if (parser.has("labels")) {
    auto labels = imaging::parseLabelList(parser.get("labels"), reference->table);
    if (!labels.ok()) {
      std::fprintf(stderr, "tessera: error: --labels: %s\n(see --help)\n",
                   labels.error().toString().c_str());
      return kExitUsage;
    }
    options.labels = *labels;
  }
  options.dicesOnly = parser.has("dice-only");
  ConsoleProgress progress("eval");
  options.progress = &progress;
  auto result = imaging::evaluateSegmentation(*prediction, *reference, options);
  progress.finish();
  if (!result.ok()) return fail(result.error());

  if (parser.has("json")) {
    JsonWriter writer;
    writer.beginObject();
    writer.field("prediction", predPath);
    writer.field("reference", refPath);
    writer.key("metrics");
    imaging::evaluationToJson(writer, *result);
    writer.endObject();
    std::printf("%s\n", writer.str().c_str());
  } else {
    std::printf("prediction: %s\nreference:  %s\n\n%s", predPath.c_str(), refPath.c_str(),
                imaging::evaluationTable(*result).c_str());
  }
  return kExitOk;
}

}  // namespace tessera::cli
