// tessera model MODEL [-o OUT --post-processing RULES.json | --no-post-processing
// | --context-offset MM | --label-codes CODES.json]: describes a model file, or
// writes a copy with other post-processing rules (docs/SDK.md), context offset
// or label codes (docs/HOSPITAL.md), its network untouched.
#include <cstdio>
#include <string>

#include "app/tessera/commands.h"
#include "core/files.h"
#include "models/io/onnx_metadata.h"
#include "models/io/onnx_model.h"

namespace tessera::cli {
namespace {

void describe(const std::string& path, const models::ModelInfo& info) {
  std::printf("model %s %s (%s)\n", info.name.c_str(), info.version.c_str(), path.c_str());
  const models::UNetConfig& a = info.architecture;
  if (info.graphNetwork)
    std::printf("network: imported graph, dense only (%s)\n", info.denseOnlyReason.c_str());
  else
    std::printf("network: U-Net, base width %d, %d levels, %d attention heads\n", a.baseWidth,
                a.levels, a.attentionHeads);
  if (info.contextOffsetMm > 0)
    std::printf("input: %d slices, neighbours every %g mm (interpolated at any spacing)\n",
                a.inputChannels, info.contextOffsetMm);
  else
    std::printf("input: %d slices, the neighbouring slices as they are\n", a.inputChannels);
  std::printf("labels:");
  for (const Label& l : info.labels.labels) std::printf(" %d %s", l.value, l.name.c_str());
  std::printf("\npost-processing: %s\n",
              info.postProcessing.empty()
                  ? "none"
                  : models::postProcessingJson(info.postProcessing).c_str());
  std::printf("label codes: %s\n", info.labelCodes.empty()
                                       ? "Tessera's defaults"
                                       : models::labelCodesJson(info.labelCodes).c_str());
  if (!info.trainingSummary.empty()) std::printf("training: %s\n", info.trainingSummary.c_str());
}

}  // namespace

int runModel(const Args& args) {
  ArgParser p("model",
              "Describe a model file, or write a copy with other post-processing rules or "
              "context offset (its network and weights unchanged).");
  p.positional("MODEL", "Tessera model file (.onnx)");
  p.option("-o,--output", "OUT", "model file to write (may be MODEL itself)");
  p.option("--post-processing", "RULES.json",
           "rules applied after the network (a JSON array, docs/SDK.md)");
  p.flag("--no-post-processing", "record no post-processing rules");
  p.option("--label-codes", "CODES.json",
           "record the DICOM codes of labels: {\"liver\": {\"category\": [value, scheme, "
           "meaning], \"type\": [...]}, ...} (others keep Tessera's defaults)");
  p.option("--context-offset", "MM",
           "distance of the input's neighbours, interpolated at any slice spacing (0: the "
           "neighbouring slices as they are)");
  p.epilog(
      "Rules: [{\"label\": \"liver\", \"keep_largest\": 1, \"fill_holes\": true},\n"
      "        {\"label\": \"brain\", \"not_on_slices_with\": [\"liver\", \"lung\"]}]\n"
      "applied in order to every segmentation with the model, dense or sparse.");
  int exit = kExitOk;
  if (!parseOrExit(p, args, &exit)) return exit;
  const bool change = p.has("post-processing") || p.has("no-post-processing") ||
                      p.has("context-offset") || p.has("label-codes");
  if ((p.has("post-processing") && p.has("no-post-processing")) || change != p.has("output")) {
    std::fprintf(
        stderr,
        "tessera: error: a change (--post-processing, --no-post-processing, "
        "--context-offset, --label-codes) needs -o OUT, and -o needs a change (see --help)\n");
    return kExitUsage;
  }
  if (!change) {
    auto info = models::readOnnxInfo(p.get("MODEL"));
    if (!info.ok()) return fail(info.error());
    describe(p.get("MODEL"), *info);
    return kExitOk;
  }
  models::MetadataEdit edit;
  if (p.has("no-post-processing")) edit.postProcessing.emplace();
  if (p.has("post-processing")) {
    auto text = readTextFile(p.get("post-processing"));
    if (!text.ok()) return fail(text.error());
    auto parsed = models::postProcessingFromJson(*text);
    if (!parsed.ok())
      return fail(Status(parsed.status()).withContext(p.get("post-processing")).error());
    edit.postProcessing = std::move(*parsed);
  }
  if (p.has("label-codes")) {
    auto text = readTextFile(p.get("label-codes"));
    if (!text.ok()) return fail(text.error());
    auto parsed = models::labelCodesFromJson(*text);
    if (!parsed.ok())
      return fail(Status(parsed.status()).withContext(p.get("label-codes")).error());
    edit.labelCodes = std::move(*parsed);
  }
  if (p.has("context-offset")) {
    double offset = 0;
    if (!p.getDouble("context-offset", &offset) || !(offset >= 0 && offset <= 100)) {
      std::fprintf(stderr, "tessera: error: --context-offset must be from 0 to 100 mm\n");
      return kExitUsage;
    }
    edit.contextOffsetMm = offset;
  }
  const Status written = models::writeWithMetadata(p.get("MODEL"), p.get("output"), edit);
  if (!written.ok()) return fail(written.error());
  auto info = models::readOnnxInfo(p.get("output"));
  if (!info.ok()) return fail(info.error());
  std::printf("wrote\n");
  describe(p.get("output"), *info);
  return kExitOk;
}

}  // namespace tessera::cli
