// A Model: the network, its weights and what a user needs to run it right:
// label names and colours, how Hounsfield units become network input, how
// many neighbouring slices form the 2.5D input, and the block size of the
// sparse engine. Stored in ONNX files as metadata_props (models/io).
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/labels.h"
#include "core/status.h"
#include "models/net/unet.h"

namespace tessera::models {

// input = (clamp(HU, huMin, huMax) − huOffset) / huScale
struct InputNormalization {
  float huMin = -1024.0f;
  float huMax = 2048.0f;
  float huOffset = 0.0f;
  float huScale = 1000.0f;

  float apply(float hu) const {
    const float clamped = hu < huMin ? huMin : (hu > huMax ? huMax : hu);
    return (clamped - huOffset) / huScale;
  }
};

// A rule the pipeline applies to one label after the network (see
// imaging/labels/label_rules.h), by label names from the model's table.
struct PostProcessingRule {
  std::string label;
  std::vector<std::string> notOnSlicesWith;  // removed from axial slices holding these
  int keepLargest = 0;                       // the N largest 3D components; 0: all
  bool fillHoles = false;                    // enclosed background becomes the label
  double minComponentMl = 0;                 // smaller components go; 0: any size stays
};

// What a label is, coded for the DICOM objects Tessera writes (a SEG
// segment's category and type, the SR's finding; docs/HOSPITAL.md): each as
// code value, coding scheme and meaning, e.g. {"10200004", "SCT", "Liver"}.
struct LabelCoding {
  std::array<std::string, 3> category;
  std::array<std::string, 3> type;
};

struct ModelInfo {
  std::string name = "tessera-unet";
  std::string version = "0";
  std::string description;
  UNetConfig architecture;
  LabelTable labels;  // one label per output class, values 0..classes-1
  InputNormalization input;
  int blockSize = 16;           // pixels per block side in the sparse engine
  std::string trainingSummary;  // free text: data, command, seed
  // An imported network (models/graph/) instead of Tessera's U-Net: only
  // architecture.inputChannels and .classes describe it, and it runs dense
  // only, for the reason given.
  bool graphNetwork = false;
  std::string denseOnlyReason;
  // Applied in order to every segmentation, dense or sparse (empty: none).
  std::vector<PostProcessingRule> postProcessing;

  // The neighbours of the 2.5D input lie at ±1, ±2, … times this distance
  // (mm) from the centre slice, interpolated (core/slice_context.h), so
  // that the slice spacing does not change what the network sees; 0 takes
  // the neighbouring slices as they are, whatever their spacing.
  double contextOffsetMm = 0;

  // Per label name; a label without an entry gets Tessera's default coding
  // for its name (imaging/dicom/dicom_seg.h).
  std::map<std::string, LabelCoding> labelCodes;

  // Neighbouring slices on each side of the centre slice (inputChannels = 2·k+1).
  int contextRadius() const { return (architecture.inputChannels - 1) / 2; }
  Status validate() const;
};

// Each rule names labels of `labels` other than the background and does
// something; kInvalidArgument saying which rule is wrong otherwise.
Status validatePostProcessing(const std::vector<PostProcessingRule>& rules,
                              const LabelTable& labels);

class GraphNet;

// Exactly one of net (Tessera's U-Net) and graph (info.graphNetwork) is set.
struct Model {
  ModelInfo info;
  std::unique_ptr<UNet> net;
  std::shared_ptr<const GraphNet> graph;
};

// A model with fresh weights for the given info (validated).
Result<Model> makeModel(const ModelInfo& info, std::uint64_t seed);

}  // namespace tessera::models
