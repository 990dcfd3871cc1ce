// RT Structure Set (RTSTRUCT, PS3.3 A.19) from a label map, for radiotherapy
// planning systems: one ROI per label present, its outline on every slice as
// closed planar contours in patient coordinates (mm, LPS), each contour
// referencing its source slice. DCMTK's dcmrt encodes it; OpenCV traces the
// outlines. No toolkit type crosses this header.
//
// Outlines are traced on the label map at twice its in-plane resolution, so
// a contour runs a quarter voxel inside the outer edge of its voxels: every
// voxel centre of the label lies inside, every other one outside. A hole is
// an inner contour on the same slice; planning systems combine the contours
// of a slice with the even-odd rule (a point inside an odd number of them
// belongs to the ROI), which gives back the label map voxel for voxel.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/geometry.h"
#include "core/image.h"
#include "core/status.h"
#include "imaging/dicom/deidentify.h"

namespace tessera::imaging {

struct PlanarContour {
  std::int64_t slice = 0;
  std::vector<Vec3> pointsMm;  // LPS, closed (the last point joins the first)
  bool hole = false;
};

// The outlines of `value` on every slice, slice by slice.
std::vector<PlanarContour> labelContours(const Image<std::uint8_t>& labels, std::uint8_t value);

struct RtStructOptions {
  std::string sourcePath;  // the DICOM series the labels were segmented from
  std::string seriesUid;   // empty: the series readVolume picks
  std::string algorithmName = "tessera";
  std::string structureSetLabel = "TESSERA";
  std::string seriesDescription = "Tessera structures";
  std::string seriesNumber = "902";
  DeidentifyOptions deidentify;  // when enabled, the structure set is de-identified
};

// Writes the structure set at `path` through a temporary file renamed when
// complete. The label map must have the source series' geometry (as for a
// DICOM-SEG); a map without labels is refused.
Status writeRtStruct(const LabelMap& labels, const std::string& path,
                     const RtStructOptions& options);

struct RtStructRoi {
  int number = 0;
  std::string name;
  std::string generationAlgorithm;
  std::int64_t contours = 0;
  std::int64_t points = 0;
};

bool isRtStructFile(const std::string& path);
Result<std::vector<RtStructRoi>> describeRtStruct(const std::string& path);

}  // namespace tessera::imaging
