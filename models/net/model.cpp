#include "models/net/model.h"

#include <cmath>

namespace tessera::models {

Status ModelInfo::validate() const {
  TESSERA_RETURN_IF_ERROR(architecture.validate());
  if (architecture.inputChannels % 2 != 1)
    return Status(StatusCode::kInvalidArgument,
                  "the 2.5D input needs an odd number of slices (centre and neighbours)");
  if (static_cast<int>(labels.labels.size()) != architecture.classes)
    return Status(StatusCode::kInvalidArgument,
                  "the label table has " + std::to_string(labels.labels.size()) +
                      " entries but the network has " + std::to_string(architecture.classes) +
                      " outputs");
  for (int i = 0; i < architecture.classes; ++i)
    if (labels.labels[i].value != i)
      return Status(StatusCode::kInvalidArgument, "label values must be 0..classes-1 in order");
  if (!(input.huScale > 0.0f) || !(input.huMax > input.huMin))
    return Status(StatusCode::kInvalidArgument, "invalid input normalisation");
  if (blockSize != 16)
    return Status(StatusCode::kUnsupported, "only 16-pixel blocks are supported");
  if ((std::int64_t{1} << architecture.levels) > blockSize)
    return Status(StatusCode::kUnsupported,
                  "a block must stay at least one feature pixel at the bottleneck (levels <= 4)");
  if (!(contextOffsetMm >= 0 && contextOffsetMm <= 100))
    return Status(StatusCode::kInvalidArgument,
                  "the context offset must be from 0 to 100 mm (0: neighbouring slices)");
  for (const auto& [name, coding] : labelCodes) {
    const Label* label = labels.findByName(name);
    if (!label || label->value == 0)
      return Status(StatusCode::kInvalidArgument,
                    "label codes name \"" + name + "\", which is not a label of the model");
    for (const auto* code : {&coding.category, &coding.type}) {
      if ((*code)[0].empty() || (*code)[1].empty() || (*code)[2].empty())
        return Status(StatusCode::kInvalidArgument,
                      "the codes of " + name + " need a value, a scheme and a meaning each");
      if ((*code)[0].size() > 16 || (*code)[1].size() > 16 || (*code)[2].size() > 64)
        return Status(StatusCode::kInvalidArgument,
                      "a code of " + name +
                          " is too long for DICOM (value and scheme 16, meaning 64 characters)");
    }
  }
  return validatePostProcessing(postProcessing, labels);
}

Status validatePostProcessing(const std::vector<PostProcessingRule>& rules,
                              const LabelTable& labels) {
  auto known = [&](const std::string& name, const std::string& where) -> Status {
    const Label* label = labels.findByName(name);
    if (!label)
      return Status(StatusCode::kInvalidArgument, "post-processing " + where + " names \"" + name +
                                                      "\", which is not one of the model's labels");
    if (label->value == 0)
      return Status(StatusCode::kInvalidArgument,
                    "post-processing " + where + " names the background");
    return Status();
  };
  for (const PostProcessingRule& rule : rules) {
    TESSERA_RETURN_IF_ERROR(known(rule.label, "rule"));
    const std::string where = "rule of \"" + rule.label + "\"";
    for (const std::string& other : rule.notOnSlicesWith) {
      TESSERA_RETURN_IF_ERROR(known(other, where));
      if (other == rule.label)
        return Status(StatusCode::kInvalidArgument, where + " excludes its own label");
    }
    if (rule.keepLargest < 0)
      return Status(StatusCode::kInvalidArgument, where + ": keep_largest must be >= 0");
    if (!(rule.minComponentMl >= 0) || !std::isfinite(rule.minComponentMl))
      return Status(StatusCode::kInvalidArgument,
                    where + ": min_component_ml must be a volume >= 0 in mL");
    if (rule.notOnSlicesWith.empty() && rule.keepLargest == 0 && !rule.fillHoles &&
        rule.minComponentMl == 0)
      return Status(StatusCode::kInvalidArgument, where + " does nothing");
  }
  return Status();
}

Result<Model> makeModel(const ModelInfo& info, std::uint64_t seed) {
  TESSERA_RETURN_IF_ERROR(info.validate());
  TESSERA_RETURN_IF_ERROR(info.architecture.checkPluginLayers());
  Model model;
  model.info = info;
  model.net = std::make_unique<UNet>(info.architecture);
  model.net->initialize(seed);
  return model;
}

}  // namespace tessera::models
