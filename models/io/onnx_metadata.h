// Tessera's metadata in an ONNX file's metadata_props: string key → string
// value, several values being JSON documents. The keys and their formats
// are listed in docs/MODEL_FORMAT.md; this is the one place that reads and
// writes them (the PyTorch twin in tools/torch mirrors it).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "models/net/model.h"

namespace tessera::models {

using MetadataProps = std::vector<std::pair<std::string, std::string>>;

namespace metadata_keys {
inline constexpr const char* kFormatVersion = "tessera.format_version";
inline constexpr const char* kModelName = "tessera.model_name";
inline constexpr const char* kModelVersion = "tessera.model_version";
inline constexpr const char* kDescription = "tessera.description";
inline constexpr const char* kArchitecture = "tessera.architecture";
inline constexpr const char* kLabels = "tessera.labels";
inline constexpr const char* kInputNormalization = "tessera.input_normalization";
inline constexpr const char* kContextSlices = "tessera.context_slices";
// Present only when the context's neighbours lie at fixed distances: the
// distance in mm between neighbours (ModelInfo::contextOffsetMm).
inline constexpr const char* kContextOffset = "tessera.context_offset_mm";
inline constexpr const char* kBlockSize = "tessera.block_size";
inline constexpr const char* kTraining = "tessera.training";
// Present only in imported networks (tessera import-model): "graph", the
// ONNX graph as exported by its framework, run densely (models/graph/);
// absent means Tessera's own U-Net.
inline constexpr const char* kNetwork = "tessera.network";
// With kNetwork: why the network cannot run block-sparse.
inline constexpr const char* kDenseOnlyReason = "tessera.dense_only_reason";
// Present only when the model has post-processing rules: a JSON array of
// {"label", "not_on_slices_with", "keep_largest", "min_component_ml",
// "fill_holes"}.
inline constexpr const char* kPostProcessing = "tessera.post_processing";
// Optional: {"liver": {"category": ["91723000", "SCT", "Anatomical Structure"],
//                      "type": ["10200004", "SCT", "Liver"]}, ...}
inline constexpr const char* kLabelCodes = "tessera.label_codes";
// Present ("true") only in deployment exports with batch norm folded away.
inline constexpr const char* kFoldedBatchNorm = "tessera.folded_batch_norm";
}  // namespace metadata_keys

// The version of the metadata layout this build writes and reads.
inline constexpr const char* kModelFormatVersion = "1";

// Every key for `info`, in a fixed order.
MetadataProps metadataFromInfo(const ModelInfo& info);

// Parses and validates the metadata (ModelInfo::validate included). A
// missing key, malformed JSON or an inconsistent value is an error naming
// the key; unknown keys are ignored (other tools add their own).
Result<ModelInfo> infoFromMetadata(const MetadataProps& props);

// The rules of key "tessera.post_processing" (also the form of the rules
// file of `tessera train --post-processing`); kCorruptData naming the key
// when malformed. Label names are checked against a table by
// validatePostProcessing (models/net/model.h), not here.
Result<std::vector<PostProcessingRule>> postProcessingFromJson(const std::string& text);
std::string postProcessingJson(const std::vector<PostProcessingRule>& rules);
// The codes of key "tessera.label_codes" (also the form `tessera model
// --label-codes` reads).
Result<std::map<std::string, LabelCoding>> labelCodesFromJson(const std::string& text);
std::string labelCodesJson(const std::map<std::string, LabelCoding>& codes);

// The label table of key "tessera.labels" (a JSON array of {"value",
// "name", "color"}), for label files in the same form.
Result<LabelTable> labelTableFromJson(const std::string& text);

}  // namespace tessera::models
