#include "models/io/import_model.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/files.h"
#include "core/json.h"
#include "models/graph/unet_match.h"
#include "models/io/internal/onnx_graph.h"
#include "models/io/onnx_metadata.h"
#include "models/io/onnx_model.h"

namespace tessera::models {
namespace {

// Distinct colours for labels named without one: background black, then
// hues around the wheel.
std::array<std::uint8_t, 3> paletteColour(int index) {
  if (index == 0) return {0, 0, 0};
  const double h = std::fmod(index * 0.381966, 1.0) * 6.0;  // golden-ratio steps
  const int sector = static_cast<int>(h);
  const double f = h - sector;
  const auto v = [](double x) { return static_cast<std::uint8_t>(40 + 200 * x); };
  switch (sector) {
    case 0:
      return {v(1), v(f), v(0)};
    case 1:
      return {v(1 - f), v(1), v(0)};
    case 2:
      return {v(0), v(1), v(f)};
    case 3:
      return {v(0), v(1 - f), v(1)};
    case 4:
      return {v(f), v(0), v(1)};
    default:
      return {v(1), v(0), v(1 - f)};
  }
}

}  // namespace

Result<LabelTable> readLabelsFile(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(const std::string text, readTextFile(path));
  Result<JsonValue> json = parseJson(text);
  if (!json.ok())
    return Status(StatusCode::kInvalidArgument,
                  "the labels file is not valid JSON: " + json.error().message, path);
  if (!json->isArray() || json->items().empty())
    return Status(StatusCode::kInvalidArgument,
                  "the labels file must hold a JSON array: label names, or objects with "
                  "\"value\", \"name\" and \"color\"",
                  path);
  if (json->items()[0].isString()) {
    LabelTable table;
    int i = 0;
    for (const JsonValue& item : json->items()) {
      if (!item.isString() || item.asString().empty())
        return Status(StatusCode::kInvalidArgument,
                      "label " + std::to_string(i) + " must be a non-empty name", path);
      table.labels.push_back({static_cast<std::uint8_t>(i), item.asString(), paletteColour(i)});
      if (++i > 255) return Status(StatusCode::kInvalidArgument, "more than 255 labels", path);
    }
    return table;
  }
  Result<LabelTable> table = labelTableFromJson(text);
  if (!table.ok()) return Status(table.status()).withContext(path);
  return table;
}

Result<ImportReport> importForeignModel(const std::string& in, const std::string& out,
                                        const ImportSettings& settings) {
  TESSERA_RETURN_IF_ERROR(checkOutputPath(out));
  TESSERA_ASSIGN_OR_RETURN(onnx::ModelProto file, onnx_io::readModelFile(in));
  auto withFile = [&](const Status& s) { return Status(s).withContext(in); };
  if (Status s = onnx_io::checkOpset(file); !s.ok()) return withFile(s);
  Result<GraphNet> parsed = onnx_io::graphNetFromOnnx(file.graph());
  if (!parsed.ok()) return withFile(parsed.status());
  auto net = std::make_shared<GraphNet>(std::move(*parsed));

  ImportReport report;
  report.nodes = static_cast<int>(net->nodes.size());
  report.sizeMultiple = net->sizeMultiple();
  const std::int64_t probe =
      report.sizeMultiple * std::max<std::int64_t>(1, 64 / report.sizeMultiple);
  if (Result<Shape> s = net->checkShapes(probe, probe); !s.ok()) return withFile(s.status());
  report.flopsPerMegapixel = net->forwardFlops(512, 512) / (512.0 * 512.0 / 1e6);

  ModelInfo& info = report.info;
  info.name = settings.name.empty() ? std::filesystem::path(in).stem().string() : settings.name;
  info.version = settings.version;
  info.description = "imported from " + std::filesystem::path(in).filename().string() +
                     (file.producer_name().empty() ? "" : " (" + file.producer_name() + ")");
  info.labels = settings.labels;
  if (static_cast<int>(info.labels.labels.size()) != net->classes)
    return Status(StatusCode::kInvalidArgument,
                  "the labels file names " + std::to_string(info.labels.labels.size()) +
                      " labels but the network has " + std::to_string(net->classes) + " outputs");
  const int radius =
      settings.contextRadius >= 0 ? settings.contextRadius : (net->inputChannels - 1) / 2;
  if (2 * radius + 1 != net->inputChannels)
    return Status(StatusCode::kInvalidArgument,
                  "the network takes " + std::to_string(net->inputChannels) +
                      " input channels; --context " + std::to_string(radius) + " means " +
                      std::to_string(2 * radius + 1) +
                      " slices (the centre slice and that many on each side)");
  if (!(settings.huMax > settings.huMin))
    return Status(StatusCode::kInvalidArgument, "the HU window's maximum must exceed its minimum");
  info.input = {settings.huMin, settings.huMax, settings.huMin, settings.huMax - settings.huMin};
  info.trainingSummary = "imported with tessera import-model";
  info.architecture.inputChannels = net->inputChannels;
  info.architecture.classes = net->classes;

  Result<UNetMatch> match =
      settings.keepGraph
          ? Result<UNetMatch>(Error{StatusCode::kUnsupported, "the graph was kept as exported"})
          : matchTesseraUNet(*net);
  if (match.ok()) {
    info.architecture = match->config;
    TESSERA_ASSIGN_OR_RETURN(Model model, makeModel(info, 0));
    for (auto& p : model.net->parameters().all()) {
      auto v = match->parameters.find(p->name);
      if (v == match->parameters.end() || !(v->second.shape() == p->value.shape()))
        return Status(StatusCode::kInternal, "no imported value for parameter " + p->name);
      p->value = v->second.clone();
      ++p->version;
    }
    report.sparse = true;
    TESSERA_RETURN_IF_ERROR(exportOnnx(model, out));
    return report;
  }

  info.graphNetwork = true;
  info.denseOnlyReason = match.error().message;
  info.architecture.baseWidth = 16;
  info.architecture.levels = 1;
  info.architecture.attentionHeads = 0;
  info.architecture.deepSupervision = false;
  TESSERA_RETURN_IF_ERROR(info.validate());
  report.denseOnlyReason = info.denseOnlyReason;
  file.clear_metadata_props();
  onnx_io::addMetadata(&file, metadataFromInfo(info));
  TESSERA_RETURN_IF_ERROR(onnx_io::writeModelFile(file, out));
  return report;
}

}  // namespace tessera::models
