// tessera import-model IN.onnx -o OUT.onnx --labels L.json --hu-window MIN,MAX
// [--context N]: a network exported with torch.onnx.export as a Tessera model.
#include <cstdio>
#include <string>

#include "app/tessera/commands.h"
#include "models/io/import_model.h"

namespace tessera::cli {
namespace {

bool parseWindow(const std::string& text, float* lo, float* hi) {
  const std::size_t comma = text.find(',');
  if (comma == std::string::npos) return false;
  try {
    std::size_t a = 0, b = 0;
    const std::string first = text.substr(0, comma), second = text.substr(comma + 1);
    *lo = std::stof(first, &a);
    *hi = std::stof(second, &b);
    return a == first.size() && b == second.size() && *hi > *lo && *lo > -32768.0f &&
           *hi < 32768.0f;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int runImportModel(const Args& args) {
  ArgParser p("import-model",
              "Turn a 2D segmentation network exported with torch.onnx.export into a Tessera "
              "model (docs/SDK.md).");
  p.positional("IN", "ONNX file exported from PyTorch (input (N, C, H, W), output logits)");
  p.option("-o,--output", "OUT", "Tessera model file to write (.onnx)");
  p.option("--labels", "L.json",
           "label names, one per network output: a JSON array of names, or of "
           "{\"value\", \"name\", \"color\"} objects");
  p.option("--hu-window", "MIN,MAX",
           "the HU window the network was trained on: input = (clamp(HU) - MIN) / (MAX - MIN)");
  p.option("--context", "N",
           "neighbouring slices on each side of the centre slice (default: from the input "
           "channels, (C - 1) / 2)");
  p.option("--name", "NAME", "model name (default: the file name)");
  p.option("--version", "V", "model version", "1");
  p.flag("--keep-graph",
         "keep the graph as exported (dense only) even when it maps onto Tessera's U-Net");
  p.epilog(
      "A network laid out as Tessera's U-Net (3x3 conv + batch norm + ReLU, 2x2 max pooling,\n"
      "2x2 transposed convolutions, skip concatenation, 1x1 head) becomes a native model\n"
      "that runs block-sparse; any other runs dense, and the reason is printed.");
  int exit = kExitOk;
  if (!parseOrExit(p, args, &exit)) return exit;
  if (!p.has("output") || !p.has("labels") || !p.has("hu-window")) {
    std::fprintf(stderr,
                 "tessera: error: import-model needs IN, -o OUT, --labels and --hu-window (see "
                 "--help)\n");
    return kExitUsage;
  }
  models::ImportSettings settings;
  if (!parseWindow(p.get("hu-window"), &settings.huMin, &settings.huMax)) {
    std::fprintf(stderr,
                 "tessera: error: --hu-window must be MIN,MAX in HU with MIN < MAX (e.g. "
                 "-1000,1000)\n");
    return kExitUsage;
  }
  long long context = -1;
  if (p.has("context") && !p.getInt("context", &context, 0, 31)) {
    std::fprintf(stderr, "tessera: error: %s\n", p.error().c_str());
    return kExitUsage;
  }
  settings.contextRadius = static_cast<int>(context);
  settings.name = p.get("name");
  settings.version = p.get("version");
  settings.keepGraph = p.has("keep-graph");
  auto labels = models::readLabelsFile(p.get("labels"));
  if (!labels.ok()) return fail(labels.error());
  settings.labels = std::move(*labels);

  auto report = models::importForeignModel(p.get("IN"), p.get("output"), settings);
  if (!report.ok()) return fail(report.error());
  const models::ModelInfo& info = report->info;
  std::printf(
      "imported %s: %d nodes, %d input slices, %d classes, H and W multiples of %lld, "
      "%.2f GFLOP per 512x512 slice\n",
      p.get("IN").c_str(), report->nodes, info.architecture.inputChannels,
      info.architecture.classes, static_cast<long long>(report->sizeMultiple),
      report->flopsPerMegapixel * 0.262144 / 1e9);
  if (report->sparse)
    std::printf(
        "sparse: available (the network maps onto Tessera's U-Net: base width %d, %d "
        "levels)\n",
        info.architecture.baseWidth, info.architecture.levels);
  else
    std::printf("sparse: not available: %s; the model runs dense\n",
                report->denseOnlyReason.c_str());
  std::printf("wrote %s\n", p.get("output").c_str());
  return kExitOk;
}

}  // namespace tessera::cli
