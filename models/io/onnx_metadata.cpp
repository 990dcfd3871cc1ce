#include "models/io/onnx_metadata.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "core/json.h"

namespace tessera::models {
namespace {
namespace keys = metadata_keys;

// Shortest text that reads back as the same float (JSON numbers are doubles).
std::string floatText(float value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string architectureJson(const UNetConfig& c) {
  JsonWriter w(false);
  w.beginObject();
  w.field("input_channels", c.inputChannels);
  w.field("classes", c.classes);
  w.field("base_width", c.baseWidth);
  w.field("levels", c.levels);
  w.field("attention_heads", c.attentionHeads);
  w.field("deep_supervision", c.deepSupervision);
  w.key("bn_eps").raw(floatText(c.bnEps));
  w.key("bn_momentum").raw(floatText(c.bnMomentum));
  // Only when present, so that files without plugin layers stay as before.
  if (!c.pluginLayers.empty()) w.field("plugin_layers", pluginLayersText(c.pluginLayers));
  w.endObject();
  return w.str();
}

std::string labelsJson(const LabelTable& table) {
  JsonWriter w(false);
  w.beginArray();
  for (const Label& label : table.labels) {
    w.beginObject();
    w.field("value", static_cast<int>(label.value));
    w.field("name", label.name);
    w.key("color").beginArray();
    for (std::uint8_t channel : label.rgb) w.value(static_cast<int>(channel));
    w.endArray();
    w.endObject();
  }
  w.endArray();
  return w.str();
}

std::string normalizationJson(const InputNormalization& n) {
  JsonWriter w(false);
  w.beginObject();
  w.key("hu_min").raw(floatText(n.huMin));
  w.key("hu_max").raw(floatText(n.huMax));
  w.key("hu_offset").raw(floatText(n.huOffset));
  w.key("hu_scale").raw(floatText(n.huScale));
  w.endObject();
  return w.str();
}

Status keyError(const char* key, const std::string& message) {
  return Status(StatusCode::kCorruptData, std::string("model metadata ") + key + ": " + message);
}

Result<JsonValue> parseKey(const char* key, const std::string& text) {
  Result<JsonValue> parsed = parseJson(text);
  if (!parsed.ok()) return keyError(key, "not valid JSON (" + parsed.error().message + ")");
  return parsed;
}

Result<int> intMember(const char* key, const JsonValue& object, const char* name, int lo, int hi) {
  const JsonValue* v = object.find(name);
  if (!v) return keyError(key, std::string("missing \"") + name + "\"");
  const double d = v->asNumber(std::numeric_limits<double>::quiet_NaN());
  if (!v->isNumber() || d != std::floor(d) || d < lo || d > hi)
    return keyError(key, std::string("\"") + name + "\" must be an integer in " +
                             std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<int>(d);
}

Result<float> floatMember(const char* key, const JsonValue& object, const char* name,
                          std::optional<float> fallback = std::nullopt) {
  const JsonValue* v = object.find(name);
  if (!v) {
    if (fallback) return *fallback;
    return keyError(key, std::string("missing \"") + name + "\"");
  }
  if (!v->isNumber() || !std::isfinite(v->asNumber()) ||
      std::abs(v->asNumber()) > std::numeric_limits<float>::max())
    return keyError(key, std::string("\"") + name + "\" must be a finite number");
  return static_cast<float>(v->asNumber());
}

Result<UNetConfig> parseArchitecture(const std::string& text) {
  const char* key = keys::kArchitecture;
  TESSERA_ASSIGN_OR_RETURN(JsonValue json, parseKey(key, text));
  if (!json.isObject()) return keyError(key, "expected a JSON object");
  UNetConfig c;
  TESSERA_ASSIGN_OR_RETURN(c.inputChannels, intMember(key, json, "input_channels", 1, 64));
  TESSERA_ASSIGN_OR_RETURN(c.classes, intMember(key, json, "classes", 2, 255));
  TESSERA_ASSIGN_OR_RETURN(c.baseWidth, intMember(key, json, "base_width", 1, 256));
  TESSERA_ASSIGN_OR_RETURN(c.levels, intMember(key, json, "levels", 1, 6));
  TESSERA_ASSIGN_OR_RETURN(c.attentionHeads, intMember(key, json, "attention_heads", 0, 4096));
  const JsonValue* deep = json.find("deep_supervision");
  if (!deep || !deep->isBool()) return keyError(key, "\"deep_supervision\" must be true or false");
  c.deepSupervision = deep->asBool();
  TESSERA_ASSIGN_OR_RETURN(c.bnEps, floatMember(key, json, "bn_eps"));
  if (!(c.bnEps > 0.0f)) return keyError(key, "\"bn_eps\" must be positive");
  TESSERA_ASSIGN_OR_RETURN(c.bnMomentum, floatMember(key, json, "bn_momentum", 0.1f));
  if (const JsonValue* layers = json.find("plugin_layers")) {
    if (!layers->isString())
      return keyError(key, "\"plugin_layers\" must be a string NAME@PLACE,...");
    Result<std::vector<PluginLayerUse>> uses = parsePluginLayers(layers->asString());
    if (!uses.ok()) return keyError(key, uses.error().message);
    c.pluginLayers = std::move(*uses);
  }
  if (Status s = c.validate(); !s.ok()) return keyError(key, s.error().message);
  return c;
}

Result<LabelTable> parseLabels(const std::string& text) {
  const char* key = keys::kLabels;
  TESSERA_ASSIGN_OR_RETURN(JsonValue json, parseKey(key, text));
  if (!json.isArray()) return keyError(key, "expected a JSON array of labels");
  LabelTable table;
  for (const JsonValue& item : json.items()) {
    if (!item.isObject()) return keyError(key, "every label must be a JSON object");
    Label label;
    TESSERA_ASSIGN_OR_RETURN(const int value, intMember(key, item, "value", 0, 255));
    label.value = static_cast<std::uint8_t>(value);
    const JsonValue* name = item.find("name");
    if (!name || !name->isString() || name->asString().empty())
      return keyError(key, "label " + std::to_string(value) + " needs a non-empty \"name\"");
    label.name = name->asString();
    const JsonValue* color = item.find("color");
    if (!color || !color->isArray() || color->items().size() != 3)
      return keyError(key, "label " + std::to_string(value) + " needs \"color\": [r, g, b]");
    for (int i = 0; i < 3; ++i) {
      const JsonValue& channel = color->items()[i];
      const double d = channel.asNumber(-1.0);
      if (!channel.isNumber() || d != std::floor(d) || d < 0 || d > 255)
        return keyError(
            key, "label " + std::to_string(value) + ": colour components must be integers 0..255");
      label.rgb[i] = static_cast<std::uint8_t>(d);
    }
    table.labels.push_back(std::move(label));
  }
  return table;
}

Result<InputNormalization> parseNormalization(const std::string& text) {
  const char* key = keys::kInputNormalization;
  TESSERA_ASSIGN_OR_RETURN(JsonValue json, parseKey(key, text));
  if (!json.isObject()) return keyError(key, "expected a JSON object");
  InputNormalization n;
  TESSERA_ASSIGN_OR_RETURN(n.huMin, floatMember(key, json, "hu_min"));
  TESSERA_ASSIGN_OR_RETURN(n.huMax, floatMember(key, json, "hu_max"));
  TESSERA_ASSIGN_OR_RETURN(n.huOffset, floatMember(key, json, "hu_offset"));
  TESSERA_ASSIGN_OR_RETURN(n.huScale, floatMember(key, json, "hu_scale"));
  return n;
}

Result<std::vector<PostProcessingRule>> parsePostProcessing(const std::string& text) {
  const char* key = keys::kPostProcessing;
  TESSERA_ASSIGN_OR_RETURN(JsonValue json, parseKey(key, text));
  if (!json.isArray()) return keyError(key, "expected a JSON array of rules");
  std::vector<PostProcessingRule> rules;
  for (const JsonValue& item : json.items()) {
    if (!item.isObject()) return keyError(key, "every rule must be a JSON object");
    PostProcessingRule rule;
    const JsonValue* label = item.find("label");
    if (!label || !label->isString() || label->asString().empty())
      return keyError(key, "every rule needs a \"label\" (a label's name)");
    rule.label = label->asString();
    if (item.find("keep_largest")) {
      TESSERA_ASSIGN_OR_RETURN(rule.keepLargest, intMember(key, item, "keep_largest", 0, 1000000));
    }
    if (const JsonValue* ml = item.find("min_component_ml")) {
      if (!ml->isNumber() || !std::isfinite(ml->asNumber()) || ml->asNumber() < 0)
        return keyError(key, "\"min_component_ml\" must be a volume >= 0 in mL");
      rule.minComponentMl = ml->asNumber();
    }
    if (const JsonValue* fill = item.find("fill_holes")) {
      if (!fill->isBool()) return keyError(key, "\"fill_holes\" must be true or false");
      rule.fillHoles = fill->asBool();
    }
    if (const JsonValue* others = item.find("not_on_slices_with")) {
      if (!others->isArray())
        return keyError(key, "\"not_on_slices_with\" must be an array of label names");
      for (const JsonValue& other : others->items()) {
        if (!other.isString() || other.asString().empty())
          return keyError(key, "\"not_on_slices_with\" must be an array of label names");
        rule.notOnSlicesWith.push_back(other.asString());
      }
    }
    for (const auto& [name, value] : item.members())
      if (name != "label" && name != "keep_largest" && name != "fill_holes" &&
          name != "not_on_slices_with" && name != "min_component_ml")
        return keyError(key, "rule of \"" + rule.label + "\": unknown field \"" + name + "\"");
    rules.push_back(std::move(rule));
  }
  return rules;
}

Result<int> parseInteger(const char* key, const std::string& text) {
  int value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || result.ec != std::errc() || result.ptr != text.data() + text.size())
    return keyError(key, "\"" + text + "\" is not an integer");
  return value;
}

}  // namespace

Result<LabelTable> labelTableFromJson(const std::string& text) {
  return parseLabels(text);
}

Result<std::map<std::string, LabelCoding>> labelCodesFromJson(const std::string& text) {
  const char* key = keys::kLabelCodes;
  TESSERA_ASSIGN_OR_RETURN(JsonValue json, parseKey(key, text));
  if (!json.isObject()) return keyError(key, "expected an object of label names");
  std::map<std::string, LabelCoding> codes;
  for (const auto& [name, entry] : json.members()) {
    LabelCoding coding;
    for (const auto& [field, target] :
         {std::pair{"category", &coding.category}, std::pair{"type", &coding.type}}) {
      const JsonValue* code = entry.find(field);
      if (!code || !code->isArray() || code->items().size() != 3)
        return keyError(key,
                        name + ": \"" + field + "\" must be [code value, coding scheme, meaning]");
      for (int i = 0; i < 3; ++i) {
        if (!code->items()[i].isString())
          return keyError(key, name + ": the " + field + " code holds a non-string");
        (*target)[i] = code->items()[i].asString();
      }
    }
    if (!codes.emplace(name, coding).second) return keyError(key, name + " appears twice");
  }
  return codes;
}

std::string labelCodesJson(const std::map<std::string, LabelCoding>& codes) {
  JsonWriter w(false);
  w.beginObject();
  for (const auto& [name, coding] : codes) {
    w.key(name).beginObject();
    for (const auto& [field, code] :
         {std::pair{"category", &coding.category}, std::pair{"type", &coding.type}}) {
      w.key(field).beginArray();
      for (const std::string& part : *code) w.value(part);
      w.endArray();
    }
    w.endObject();
  }
  w.endObject();
  return w.str();
}

Result<std::vector<PostProcessingRule>> postProcessingFromJson(const std::string& text) {
  return parsePostProcessing(text);
}

std::string postProcessingJson(const std::vector<PostProcessingRule>& rules) {
  JsonWriter w(false);
  w.beginArray();
  for (const PostProcessingRule& rule : rules) {
    w.beginObject().field("label", rule.label);
    if (!rule.notOnSlicesWith.empty()) {
      w.key("not_on_slices_with").beginArray();
      for (const std::string& other : rule.notOnSlicesWith) w.value(other);
      w.endArray();
    }
    if (rule.keepLargest > 0) w.field("keep_largest", rule.keepLargest);
    if (rule.minComponentMl > 0) w.field("min_component_ml", rule.minComponentMl);
    if (rule.fillHoles) w.field("fill_holes", true);
    w.endObject();
  }
  w.endArray();
  return w.str();
}

MetadataProps metadataFromInfo(const ModelInfo& info) {
  MetadataProps props{
      {keys::kFormatVersion, kModelFormatVersion},
      {keys::kModelName, info.name},
      {keys::kModelVersion, info.version},
      {keys::kDescription, info.description},
      {keys::kArchitecture, architectureJson(info.architecture)},
      {keys::kLabels, labelsJson(info.labels)},
      {keys::kInputNormalization, normalizationJson(info.input)},
      {keys::kContextSlices, std::to_string(info.architecture.inputChannels)},
      {keys::kBlockSize, std::to_string(info.blockSize)},
      {keys::kTraining, info.trainingSummary},
  };
  if (info.contextOffsetMm > 0) {
    JsonWriter w(false);
    w.value(info.contextOffsetMm);
    props.emplace_back(keys::kContextOffset, w.str());
  }
  if (!info.postProcessing.empty())
    props.emplace_back(keys::kPostProcessing, postProcessingJson(info.postProcessing));
  if (!info.labelCodes.empty())
    props.emplace_back(keys::kLabelCodes, labelCodesJson(info.labelCodes));
  if (info.graphNetwork) {
    props.emplace_back(keys::kNetwork, "graph");
    props.emplace_back(keys::kDenseOnlyReason, info.denseOnlyReason);
  }
  return props;
}

Result<ModelInfo> infoFromMetadata(const MetadataProps& props) {
  auto find = [&](const char* key) -> const std::string* {
    for (const auto& [k, v] : props)
      if (k == key) return &v;
    return nullptr;
  };
  const std::string* format = find(keys::kFormatVersion);
  if (!format) {
    bool anyTessera = false;
    for (const auto& entry : props) anyTessera |= entry.first.rfind("tessera.", 0) == 0;
    if (!anyTessera)
      return Status(StatusCode::kUnsupported,
                    "not a Tessera model: the ONNX file has no Tessera metadata (metadata_props "
                    "\"tessera.*\", see docs/MODEL_FORMAT.md)");
    return keyError(keys::kFormatVersion, "missing");
  }
  if (*format != kModelFormatVersion)
    return Status(StatusCode::kUnsupported, "model format version \"" + *format +
                                                "\" is not supported (this Tessera reads version " +
                                                kModelFormatVersion + ")");
  for (const char* key : {keys::kModelName, keys::kModelVersion, keys::kArchitecture, keys::kLabels,
                          keys::kInputNormalization, keys::kContextSlices, keys::kBlockSize})
    if (!find(key)) return keyError(key, "missing (every Tessera model file records it)");

  ModelInfo info;
  info.name = *find(keys::kModelName);
  info.version = *find(keys::kModelVersion);
  if (const std::string* d = find(keys::kDescription)) info.description = *d;
  if (const std::string* t = find(keys::kTraining)) info.trainingSummary = *t;
  TESSERA_ASSIGN_OR_RETURN(info.architecture, parseArchitecture(*find(keys::kArchitecture)));
  TESSERA_ASSIGN_OR_RETURN(info.labels, parseLabels(*find(keys::kLabels)));
  TESSERA_ASSIGN_OR_RETURN(info.input, parseNormalization(*find(keys::kInputNormalization)));
  TESSERA_ASSIGN_OR_RETURN(const int contextSlices,
                           parseInteger(keys::kContextSlices, *find(keys::kContextSlices)));
  if (contextSlices != info.architecture.inputChannels)
    return keyError(keys::kContextSlices,
                    std::to_string(contextSlices) + " slices, but the network takes " +
                        std::to_string(info.architecture.inputChannels) + " input channels");
  TESSERA_ASSIGN_OR_RETURN(info.blockSize, parseInteger(keys::kBlockSize, *find(keys::kBlockSize)));
  if (const std::string* network = find(keys::kNetwork)) {
    if (*network != "graph")
      return keyError(keys::kNetwork,
                      "\"" + *network + "\" is not a network kind this Tessera runs");
    info.graphNetwork = true;
    if (const std::string* why = find(keys::kDenseOnlyReason)) info.denseOnlyReason = *why;
    if (info.denseOnlyReason.empty()) info.denseOnlyReason = "an imported network runs dense";
  }
  if (const std::string* offset = find(keys::kContextOffset)) {
    TESSERA_ASSIGN_OR_RETURN(JsonValue value, parseKey(keys::kContextOffset, *offset));
    if (!value.isNumber() || !(value.asNumber() > 0) || !std::isfinite(value.asNumber()))
      return keyError(keys::kContextOffset, "must be a distance in mm above 0");
    info.contextOffsetMm = value.asNumber();
  }
  if (const std::string* rules = find(keys::kPostProcessing)) {
    TESSERA_ASSIGN_OR_RETURN(info.postProcessing, parsePostProcessing(*rules));
  }
  if (const std::string* codes = find(keys::kLabelCodes)) {
    TESSERA_ASSIGN_OR_RETURN(info.labelCodes, labelCodesFromJson(*codes));
  }
  if (Status s = info.validate(); !s.ok())
    return Status(
        s.code() == StatusCode::kUnsupported ? StatusCode::kUnsupported : StatusCode::kCorruptData,
        "model metadata is inconsistent: " + s.error().message);
  return info;
}

}  // namespace tessera::models
