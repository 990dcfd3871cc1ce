// models/io: readOnnxInfo and importOnnx (protobuf parse, graph checks,
// weights into a Model) on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "models/io/onnx_model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = tessera::fuzz::scratchPath(".onnx");
  tessera::fuzz::writeScratch(path, data, size);
  (void)tessera::models::readOnnxInfo(path);
  (void)tessera::models::importOnnx(path);
  return 0;
}
