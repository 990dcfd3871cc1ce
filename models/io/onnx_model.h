// Model files: a Tessera model is an ONNX file (opset 13) holding the U-Net's
// inference graph, its weights as initializers named like the parameters
// ("enc0.conv1.weight") and Tessera's metadata in metadata_props (labels,
// input normalisation, context slices, block size, version). The format and
// every metadata key are described in docs/MODEL_FORMAT.md.
//
// The exported graph runs unchanged in other ONNX runtimes (OpenCV's DNN
// module, ONNX Runtime, PyTorch): input "input" (1, inputChannels, H, W) in
// normalised units (ModelInfo::input), output "logits" (1, classes, H, W).
// Import accepts exactly that network: files written by exportOnnx and by
// the PyTorch twin in tools/torch (same names, same graph up to node order,
// tensor names and constant representation); anything else is refused with
// the reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/net/model.h"

namespace tessera::models {

struct ExportOptions {
  // Fixed input size of the graph. Only other runtimes care (the bottleneck
  // attention's reshapes depend on it); Tessera runs the imported model at
  // any size. Both must be positive multiples of 2^levels.
  std::int64_t height = 512;
  std::int64_t width = 512;
  // Folds batch norm into the preceding convolutions (conv gains a bias).
  // For deployment in other runtimes only: importOnnx refuses folded files,
  // since the batch-norm parameters a fine-tuning run needs are gone.
  bool foldBatchNorm = false;
  // Also exports the deep-supervision heads head1.. as extra outputs
  // "logits_1".. (1, classes, H/2^L, W/2^L), so that training can resume
  // from the file. Without it the file holds the inference network only and
  // its architecture records deep_supervision = false.
  bool includeTrainingHeads = false;
};

// Writes the model to `path` atomically (temporary name, then rename).
Status exportOnnx(const Model& model, const std::string& path, const ExportOptions& options = {});

// Reads a model written by exportOnnx (or the PyTorch twin): validates the
// metadata, that every operator is one Tessera runs, that the graph is the
// U-Net its architecture describes, and loads every parameter by name with
// shape checks. Errors name the offending key, node or initializer.
Result<Model> importOnnx(const std::string& path);

// What `tessera model` may change in a model file without touching its
// network: unset members stay as they are.
struct MetadataEdit {
  std::optional<std::vector<PostProcessingRule>> postProcessing;  // empty: none
  std::optional<double> contextOffsetMm;                          // 0: by slice index
  std::optional<std::map<std::string, LabelCoding>> labelCodes;   // empty: the defaults
};

// Writes a copy of the model file `in` to `out` (atomically; `out` may be
// `in`) with `edit` applied: the graph, the weights and every other
// metadata entry are kept as they are. The edited metadata must read as a
// Tessera model's (ModelInfo::validate), or nothing is written.
Status writeWithMetadata(const std::string& in, const std::string& out, const MetadataEdit& edit);

// Only the metadata (for `tessera info --model` and model choosers): does not
// decode the graph or the weights, but fails on a truncated file.
Result<ModelInfo> readOnnxInfo(const std::string& path);

}  // namespace tessera::models
