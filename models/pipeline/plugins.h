// Plugins: shared libraries that add pipeline stages run before or after
// the network (the ABI is sdk/include/tessera/plugin.h, docs/SDK.md). Loaded
// only from folders the user names (--plugins, $TESSERA_PLUGIN_PATH), never
// from the working directory; each plugin's ABI number is read from a data
// symbol before any of its code is called.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/image.h"
#include "core/labels.h"
#include "core/status.h"
#include "models/backend/plugin_layer.h"
#include "tessera/plugin.h"

namespace tessera::models {

struct LoadedPlugin {
  std::string path;  // the .so file
  std::string name, version;
  std::vector<const tessera_stage*> stages;  // owned by the plugin, never unloaded
  std::vector<const tessera_layer*> layers;  // also registered (models/backend/plugin_layer.h)
};

// The plugins of a process. Libraries stay loaded until the process ends
// (their stages may be referenced anywhere).
class PluginRegistry {
 public:
  // Every *.so file directly inside each folder (absolute paths; regular
  // files or links to them).
  // Refuses, naming the file: a relative or missing folder, a library that
  // does not load, one without tessera_plugin_abi or tessera_plugin_entry,
  // another ABI number, a stage without a name in [a-z0-9_]+ or without a
  // run function, two stages of one name, a layer that fails
  // checkPluginLayer (reference and CPU disagree...) or whose name another
  // plugin's layer has. Layers are registered process-wide as plugins load.
  static Result<std::shared_ptr<const PluginRegistry>> load(
      const std::vector<std::string>& folders);

  // --plugins' folders (':'-separated; may be empty), then $TESSERA_PLUGIN_PATH's.
  static std::vector<std::string> foldersFrom(const std::string& option);

  const std::vector<LoadedPlugin>& plugins() const { return plugins_; }
  const tessera_stage* find(const std::string& name) const;

 private:
  std::vector<LoadedPlugin> plugins_;
};

// One stage to run, with the arguments given after "NAME=".
struct StageCall {
  const tessera_stage* stage = nullptr;
  std::string arguments;
};

// "NAME[=ARGS][;NAME[=ARGS]...]" → the stages in that order; an unknown
// name is kInvalidArgument listing the stages the registry has.
Result<std::vector<StageCall>> resolveStages(const PluginRegistry& registry,
                                             const std::string& spec);

// The calls as resolveStages reads them: "NAME[=ARGS];..." (canonical:
// no empty items, "=" only before arguments).
std::string stageSpec(const std::vector<StageCall>& calls);

// The C API's geometry (tessera/tessera.h) of a Geometry.
tessera_geometry toCGeometry(const Geometry& geometry);

// Numbers stages added to the report: "NAME.key" → value, in call order.
using StageReport = std::vector<std::pair<std::string, double>>;

// Runs the calls of kind `when`, in order, on `ct` (HU, writable before the
// network) and `labels` (nullptr before the network), which share
// `geometry`. A stage's failure is kUnsupported with its plugin's message.
Status runStages(const std::vector<StageCall>& calls, tessera_stage_when when, std::int16_t* ct,
                 std::uint8_t* labels, const Geometry& geometry, const LabelTable& table,
                 StageReport* report);

}  // namespace tessera::models
