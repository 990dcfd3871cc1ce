// tessera plugins [--plugins DIRS]: what --stages can name, from where.
#include <cstdio>

#include "app/tessera/commands.h"
#include "models/pipeline/plugins.h"

namespace tessera::cli {

int runPlugins(const Args& args) {
  ArgParser p("plugins", "List the plugins and stages found in the plugin folders (docs/SDK.md).");
  p.option("--plugins", "DIRS",
           "absolute folders (':'-separated) searched before $TESSERA_PLUGIN_PATH");
  int exit = kExitOk;
  if (!parseOrExit(p, args, &exit)) return exit;
  const std::vector<std::string> folders = models::PluginRegistry::foldersFrom(p.get("plugins"));
  if (folders.empty()) {
    std::printf("no plugin folder: pass --plugins DIRS or set TESSERA_PLUGIN_PATH\n");
    return kExitOk;
  }
  auto registry = models::PluginRegistry::load(folders);
  if (!registry.ok()) return fail(registry.error());
  for (const std::string& folder : folders) std::printf("folder %s\n", folder.c_str());
  if ((*registry)->plugins().empty()) std::printf("no plugin found\n");
  for (const models::LoadedPlugin& plugin : (*registry)->plugins()) {
    std::printf("plugin %s %s (%s)\n", plugin.name.c_str(), plugin.version.c_str(),
                plugin.path.c_str());
    for (const tessera_stage* stage : plugin.stages)
      std::printf("  stage %-24s %s network: %s\n", stage->name,
                  stage->when == TESSERA_STAGE_BEFORE_NETWORK ? "before" : "after",
                  stage->description ? stage->description : "");
    for (const tessera_layer* layer : plugin.layers)
      std::printf("  layer %-24s %s\n", layer->name, layer->description ? layer->description : "");
  }
  return kExitOk;
}

}  // namespace tessera::cli
