#include "models/pipeline/model_store.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/files.h"
#include "models/io/onnx_model.h"

namespace tessera::models {

namespace fs = std::filesystem;

Result<std::string> defaultModelPath() {
  std::vector<std::string> candidates;
  if (const char* dir = std::getenv("TESSERA_MODEL_DIR"))
    candidates.push_back((fs::path(dir) / kDefaultModelFile).string());
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  if (!error)
    candidates.push_back(
        (exe.parent_path().parent_path() / "share/tessera/models" / kDefaultModelFile).string());
  candidates.push_back(
      (fs::path(TESSERA_SOURCE_DIR) / "resources/models" / kDefaultModelFile).string());
  for (const std::string& c : candidates)
    if (fileExists(c)) return c;
  std::string searched;
  for (const std::string& c : candidates) searched += (searched.empty() ? "" : ", ") + c;
  return Error{
      StatusCode::kNotFound,
      "the default model was not found; pass --model FILE.onnx (searched " + searched + ")"};
}

Result<std::shared_ptr<const Model>> loadModel(const std::string& path) {
  std::string resolved = path;
  if (resolved.empty()) {
    TESSERA_ASSIGN_OR_RETURN(resolved, defaultModelPath());
  }
  TESSERA_ASSIGN_OR_RETURN(Model model, importOnnx(resolved));
  return std::make_shared<const Model>(std::move(model));
}

}  // namespace tessera::models
