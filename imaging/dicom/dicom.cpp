#include "imaging/dicom/dicom.h"

namespace tessera::imaging {

Result<Volume> readDicomVolume(const std::string& path, const ReadOptions&) {
  return Error{StatusCode::kUnsupported, "DICOM reading is not available in this build", path};
}

}  // namespace tessera::imaging
