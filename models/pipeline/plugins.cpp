#include "models/pipeline/plugins.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <type_traits>

namespace tessera::models {

namespace fs = std::filesystem;

namespace {

Error pluginError(const std::string& message, const std::string& path) {
  return Error{StatusCode::kInvalidArgument, message, path};
}

bool validStageName(const char* name) {
  if (!name || !*name) return false;
  for (const char* c = name; *c; ++c)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) return false;
  return true;
}

Result<LoadedPlugin> loadOne(const std::string& path) {
  // RTLD_LOCAL: one plugin's symbols never resolve another's.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return pluginError(std::string("cannot load the plugin: ") + (why ? why : "unknown error"),
                       path);
  }
  // The ABI number is data: read before any plugin function runs.
  const auto* abi = static_cast<const std::uint32_t*>(dlsym(handle, "tessera_plugin_abi"));
  if (!abi) {
    dlclose(handle);
    return pluginError("not a Tessera plugin: it has no tessera_plugin_abi symbol", path);
  }
  if (*abi != TESSERA_PLUGIN_ABI_VERSION) {
    const std::uint32_t found = *abi;
    dlclose(handle);
    return pluginError("the plugin was built for plugin ABI " + std::to_string(found) +
                           "; this Tessera loads plugin ABI " +
                           std::to_string(TESSERA_PLUGIN_ABI_VERSION) + " (rebuild it)",
                       path);
  }
  auto entry = reinterpret_cast<tessera_plugin_entry_fn>(dlsym(handle, "tessera_plugin_entry"));
  if (!entry) {
    dlclose(handle);
    return pluginError("the plugin has no tessera_plugin_entry function", path);
  }
  // From here on the library stays loaded: its code has run.
  const tessera_plugin* plugin = entry();
  if (!plugin || plugin->stage_count < 0 || (plugin->stage_count > 0 && !plugin->stages) ||
      plugin->layer_count < 0 || (plugin->layer_count > 0 && !plugin->layers))
    return pluginError("the plugin's tessera_plugin_entry returned no valid description", path);
  LoadedPlugin loaded;
  loaded.path = path;
  loaded.name = plugin->name ? plugin->name : fs::path(path).stem().string();
  loaded.version = plugin->version ? plugin->version : "";
  for (int i = 0; i < plugin->stage_count; ++i) {
    const tessera_stage& stage = plugin->stages[i];
    if (!validStageName(stage.name))
      return pluginError("stage " + std::to_string(i) + " has no name of [a-z0-9_]+", path);
    if (!stage.run)
      return pluginError(std::string("stage '") + stage.name + "' has no run function", path);
    // Read as an integer: a C plugin may store any value in the enum.
    std::underlying_type_t<tessera_stage_when> when;
    std::memcpy(&when, &stage.when, sizeof when);
    if (when != TESSERA_STAGE_BEFORE_NETWORK && when != TESSERA_STAGE_AFTER_NETWORK)
      return pluginError(
          std::string("stage '") + stage.name + "' runs neither before nor after the network",
          path);
    loaded.stages.push_back(&stage);
  }
  for (int i = 0; i < plugin->layer_count; ++i) {
    const tessera_layer& layer = plugin->layers[i];
    if (Status s = checkPluginLayer(layer); !s.ok()) return pluginError(s.error().message, path);
    loaded.layers.push_back(&layer);
  }
  return loaded;
}

struct ReportSink {
  std::string prefix;
  StageReport* report;
};

void addReportField(void* context, const char* key, double value) {
  auto* sink = static_cast<ReportSink*>(context);
  if (sink->report && key) sink->report->emplace_back(sink->prefix + key, value);
}

}  // namespace

std::vector<std::string> PluginRegistry::foldersFrom(const std::string& option) {
  std::vector<std::string> folders;
  auto split = [&](const std::string& text) {
    std::size_t start = 0;
    while (start <= text.size()) {
      const std::size_t end = std::min(text.find(':', start), text.size());
      if (end > start) folders.push_back(text.substr(start, end - start));
      start = end + 1;
    }
  };
  split(option);
  if (const char* env = std::getenv("TESSERA_PLUGIN_PATH")) split(env);
  return folders;
}

Result<std::shared_ptr<const PluginRegistry>> PluginRegistry::load(
    const std::vector<std::string>& folders) {
  auto registry = std::make_shared<PluginRegistry>();
  for (const std::string& folder : folders) {
    // A relative folder would depend on the working directory: refused.
    if (!fs::path(folder).is_absolute())
      return pluginError("plugin folders must be absolute paths", folder);
    std::error_code error;
    if (!fs::is_directory(folder, error))
      return Error{StatusCode::kNotFound, "no such plugin folder", folder};
    std::vector<std::string> files;
    for (const fs::directory_entry& entry : fs::directory_iterator(folder, error)) {
      if (entry.path().extension() != ".so") continue;
      std::error_code statError;
      if (!entry.is_regular_file(statError)) continue;
      files.push_back(entry.path().string());
    }
    if (error) return Error{StatusCode::kIoError, "cannot list the plugin folder", folder};
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) {
      TESSERA_ASSIGN_OR_RETURN(LoadedPlugin plugin, loadOne(file));
      for (const tessera_stage* stage : plugin.stages)
        if (registry->find(stage->name))
          return pluginError(std::string("a stage named '") + stage->name +
                                 "' is already loaded from another plugin",
                             file);
      for (const tessera_layer* layer : plugin.layers)
        if (Status s = registerPluginLayer(layer, "plugin " + plugin.name + " (" + file + ")");
            !s.ok())
          return pluginError(s.error().message, file);
      registry->plugins_.push_back(std::move(plugin));
    }
  }
  return std::shared_ptr<const PluginRegistry>(std::move(registry));
}

const tessera_stage* PluginRegistry::find(const std::string& name) const {
  for (const LoadedPlugin& plugin : plugins_)
    for (const tessera_stage* stage : plugin.stages)
      if (name == stage->name) return stage;
  return nullptr;
}

Result<std::vector<StageCall>> resolveStages(const PluginRegistry& registry,
                                             const std::string& spec) {
  std::vector<StageCall> calls;
  std::size_t start = 0;
  while (start < spec.size()) {
    const std::size_t end = std::min(spec.find(';', start), spec.size());
    const std::string item = spec.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    const std::size_t equals = item.find('=');
    const std::string name = item.substr(0, equals);
    const tessera_stage* stage = registry.find(name);
    if (!stage) {
      std::string known;
      for (const LoadedPlugin& plugin : registry.plugins())
        for (const tessera_stage* s : plugin.stages)
          known += (known.empty() ? "" : ", ") + std::string(s->name);
      return Error{StatusCode::kInvalidArgument,
                   "no stage named '" + name + "' (" +
                       (known.empty() ? std::string("no plugin is loaded: pass --plugins DIR")
                                      : "loaded: " + known) +
                       ")"};
    }
    calls.push_back({stage, equals == std::string::npos ? std::string() : item.substr(equals + 1)});
  }
  return calls;
}

std::string stageSpec(const std::vector<StageCall>& calls) {
  std::string spec;
  for (const StageCall& call : calls) {
    if (!spec.empty()) spec += ';';
    spec += call.stage->name;
    if (!call.arguments.empty()) spec += "=" + call.arguments;
  }
  return spec;
}

tessera_geometry toCGeometry(const Geometry& geometry) {
  tessera_geometry g{};
  for (int a = 0; a < 3; ++a) {
    g.size[a] = geometry.size[a];
    g.spacing[a] = geometry.spacingMm[a];
    g.origin[a] = geometry.originMm[a];
  }
  std::copy(geometry.direction.begin(), geometry.direction.end(), g.direction);
  return g;
}

Status runStages(const std::vector<StageCall>& calls, tessera_stage_when when, std::int16_t* ct,
                 std::uint8_t* labels, const Geometry& geometry, const LabelTable& table,
                 StageReport* report) {
  std::vector<std::string> names(static_cast<std::size_t>(table.maxValue() + 1));
  for (std::size_t v = 0; v < names.size(); ++v)
    names[v] = table.nameOf(static_cast<std::uint8_t>(v));
  std::vector<const char*> namePointers;
  for (const std::string& n : names) namePointers.push_back(n.c_str());
  for (const StageCall& call : calls) {
    if (call.stage->when != when) continue;
    ReportSink sink{std::string(call.stage->name) + ".", report};
    tessera_stage_input input{};
    input.struct_size = sizeof input;
    input.ct = ct;
    input.labels = when == TESSERA_STAGE_AFTER_NETWORK ? labels : nullptr;
    input.geometry = toCGeometry(geometry);
    input.label_count = static_cast<int>(names.size());
    input.label_names = namePointers.data();
    input.arguments = call.arguments.c_str();
    input.report = &addReportField;
    input.report_context = &sink;
    char message[512] = {0};
    if (call.stage->run(&input, message, sizeof message) != 0) {
      message[sizeof message - 1] = '\0';
      return Status(StatusCode::kUnsupported,
                    std::string("stage '") + call.stage->name +
                        "' failed: " + (message[0] ? message : "no reason given"));
    }
  }
  return Status();
}

}  // namespace tessera::models
