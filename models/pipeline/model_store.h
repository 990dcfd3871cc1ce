// Finding and loading models: the default model that ships with Tessera
// (resources/models/tessera-default.onnx) or a user's ONNX file.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "models/net/model.h"

namespace tessera::models {

inline constexpr const char* kDefaultModelFile = "tessera-default.onnx";

// The bundled default model: $TESSERA_MODEL_DIR, then the install location
// beside the shared library holding this code when there is one
// (libtessera: <prefix>/lib → <prefix>/share/tessera/models), then beside
// the executable (../share/tessera/models), then the source tree.
// kNotFound (listing the places searched) when none has it.
Result<std::string> defaultModelPath();

// Loads `path`, or the default model when empty.
Result<std::shared_ptr<const Model>> loadModel(const std::string& path);

}  // namespace tessera::models
