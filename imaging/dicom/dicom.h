// DICOM series: listing the series of a directory and reading one as a
// Volume in Hounsfield units (GDCM through ITK).
#pragma once

#include <string>
#include <vector>

#include "core/image.h"
#include "imaging/io/volume_io.h"

namespace tessera::imaging {

// Reads a DICOM file or a series from a directory (options.seriesUid, or the
// largest CT series when empty).
Result<Volume> readDicomVolume(const std::string& path, const ReadOptions& options);

}  // namespace tessera::imaging
