#include "app/tessera/segment_options.h"

#include <cstdint>

#include "core/memory_budget.h"

namespace tessera::cli {

void addSegmentOptions(ArgParser& p, const std::string& threadsHelp,
                       const std::string& defaultThreads, bool withMode) {
  p.option("--model", "M", "ONNX model (default: the bundled model)");
  if (withMode)
    p.option("--mode", "MODE",
             "sparse (compute only blocks holding anatomy; the default where the model allows) "
             "or dense (the default for imported models that run dense only)");
  p.option("--settle", "LEVEL",
           "output-driven sparsity in sparse mode: off, conservative, balanced or aggressive "
           "(finer decoder levels skip blocks a coarser level labels confidently)",
           "balanced");
  p.option("--dilation", "B",
           "sparse mode: rings of blocks the density detector adds around the anatomy",
           std::to_string(models::SegmentOptions{}.detector.dilation));
  p.option("--threads", "N", threadsHelp, defaultThreads);
  p.option("--memory-limit", "MiB",
           "memory budget of the job in MiB (0: 3/4 of the memory available at start)", "0");
  if (withMode) {
    p.option("--plugins", "DIRS",
             "load plugins (*.so) from these absolute folders (':'-separated), then from "
             "$TESSERA_PLUGIN_PATH; never from the working directory");
    p.option("--stages", "SPEC",
             "plugin stages to run, in order: NAME[=ARGS][;NAME[=ARGS]...] (quote the ';')");
  }
}

bool readSegmentOptions(ArgParser& p, SegmentCommandOptions* o, std::string* error) {
  o->modelPath = p.get("model");
  if (p.has("mode") && !models::parseSegmentMode(p.get("mode"), &o->segment.mode)) {
    *error = "--mode must be sparse or dense";
    return false;
  }
  o->segment.denseWhenSparseUnavailable = !p.has("mode");
  if (!models::parseSettling(p.get("settle"), &o->segment.settling)) {
    *error = "--settle must be off, conservative, balanced or aggressive";
    return false;
  }
  long long dilation = 0, threads = 0;
  if (!p.getInt("dilation", &dilation, 0, 8) || !p.getInt("threads", &threads, 0, 1024) ||
      !p.getInt("memory-limit", &o->memoryLimitMiB, 0, std::int64_t{1} << 24)) {
    *error = p.error();
    return false;
  }
  o->segment.detector.dilation = static_cast<int>(dilation);
  o->segment.threads = static_cast<int>(threads);
  setJobMemoryLimit(o->memoryLimitMiB << 20);
  // Plugins are loaded when stages are asked for or plugin folders are named
  // (their layers are needed before the model is read).
  const std::vector<std::string> folders = models::PluginRegistry::foldersFrom(p.get("plugins"));
  if (!p.has("stages") && folders.empty()) return true;
  auto loaded = models::PluginRegistry::load(folders);
  if (!loaded.ok()) {
    *error = loaded.error().toString();
    return false;
  }
  o->plugins = *loaded;
  if (p.has("stages")) {
    auto stages = models::resolveStages(**loaded, p.get("stages"));
    if (!stages.ok()) {
      *error = stages.error().toString();
      return false;
    }
    o->stages = std::move(*stages);
  }
  return true;
}

}  // namespace tessera::cli
