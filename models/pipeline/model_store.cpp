#include "models/pipeline/model_store.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/files.h"
#include "models/io/onnx_model.h"

namespace tessera::models {

namespace fs = std::filesystem;

namespace {

// <prefix>/share/tessera/models/<file> for a binary installed in <prefix>/bin
// or <prefix>/lib.
std::string besideInstalled(const fs::path& binary) {
  return (binary.parent_path().parent_path() / "share/tessera/models" / kDefaultModelFile).string();
}

// The shared library this code is linked into (libtessera.so, loaded by a
// program or by Python), or empty when it is part of the executable.
fs::path sharedLibraryHoldingThisCode(const fs::path& exe) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&defaultModelPath), &info) == 0 || !info.dli_fname) return {};
  std::error_code error;
  const fs::path object = fs::canonical(info.dli_fname, error);
  if (error || object == exe || object.filename().string().find(".so") == std::string::npos)
    return {};
  return object;
}

}  // namespace

Result<std::string> defaultModelPath() {
  std::vector<std::string> candidates;
  if (const char* dir = std::getenv("TESSERA_MODEL_DIR"))
    candidates.push_back((fs::path(dir) / kDefaultModelFile).string());
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  if (const fs::path library = sharedLibraryHoldingThisCode(exe); !library.empty())
    candidates.push_back(besideInstalled(library));
  if (!error) candidates.push_back(besideInstalled(exe));
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
