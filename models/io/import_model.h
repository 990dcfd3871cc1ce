// Bring your own model: `tessera import-model` turns a 2D segmentation
// network exported with torch.onnx.export into a Tessera model file.
//
// The graph is mapped onto Tessera's ops (models/graph/graph_net.h); an
// operator or attribute Tessera cannot run is an error listing them. A
// network laid out as Tessera's U-Net (models/graph/unet_match.h) becomes a
// native Tessera model, which runs block-sparse; any other keeps its graph
// (metadata "tessera.network" = "graph") and runs dense, and the result says
// why sparse is not available. The input normalisation is the HU window
// mapped to [0, 1], which is what the network must have been trained on.
#pragma once

#include <cstdint>
#include <string>

#include "core/labels.h"
#include "core/status.h"
#include "models/net/model.h"

namespace tessera::models {

struct ImportSettings {
  LabelTable labels;                        // one per network output, values 0..classes-1
  float huMin = -1024.0f, huMax = 2048.0f;  // input = (clamp(HU) − huMin) / (huMax − huMin)
  int contextRadius = -1;                   // −1: (input channels − 1) / 2
  std::string name;                         // empty: the input file's stem
  std::string version = "1";
  bool keepGraph = false;  // never convert to the native U-Net (dense only)
};

struct ImportReport {
  ModelInfo info;
  bool sparse = false;          // became a native model
  std::string denseOnlyReason;  // when not
  std::int64_t sizeMultiple = 1;
  int nodes = 0;
  double flopsPerMegapixel = 0;  // dense, at 512×512
};

// Labels from a JSON file: an array of names (colours from Tessera's
// palette) or of {"value", "name", "color": [r, g, b]} objects as in model
// metadata. Errors name the file.
Result<LabelTable> readLabelsFile(const std::string& path);

// Reads `in`, maps and checks it, writes `out` atomically. Nothing is
// written on error.
Result<ImportReport> importForeignModel(const std::string& in, const std::string& out,
                                        const ImportSettings& settings);

}  // namespace tessera::models
