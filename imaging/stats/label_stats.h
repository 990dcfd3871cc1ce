// Per-label statistics of a segmentation: voxel count, volume in mL, HU
// distribution (mean, standard deviation, median, 5th and 95th percentiles),
// extent and whether the structure touches the edge of the field of view.
// Shared by `tessera segment --report`, the batch runner and the workstation.
//
// Conventions (docs/QUANTIFICATION.md):
// - Volume in millilitres: voxel count × voxel volume (mm³) / 1000.
// - Percentiles are exact, with linear interpolation between the two closest
//   ranks (numpy.percentile's default): position p/100 × (n − 1) in the
//   sorted values. The median is the 50th percentile.
// - Standard deviation is the population one (divides by n).
// - A structure touching the edge of the field of view is still measured in
//   full and flagged; it is never zeroed or dropped.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/geometry.h"
#include "core/image.h"
#include "core/image_view.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/status.h"

namespace tessera::imaging {

// Faces of the voxel grid, as a bit set: "i_min" is the face at index i = 0,
// "k_max" the face at k = size[2] − 1, and so on.
enum FovFace : std::uint8_t {
  kFaceIMin = 1 << 0,
  kFaceIMax = 1 << 1,
  kFaceJMin = 1 << 2,
  kFaceJMax = 1 << 3,
  kFaceKMin = 1 << 4,
  kFaceKMax = 1 << 5,
};
constexpr int kFovFaceCount = 6;

// "i_min", "i_max", ..., for bit `1 << index`.
const char* fovFaceName(int index);
// The patient direction a face lies towards for this orientation, one of
// L R P A S I: for an identity (LPS) direction "i_min" is 'R' and "k_max" is
// 'S'. Oblique axes take the closest letter.
char fovFaceDirection(int index, const Geometry& geometry);

struct LabelBoundingBox {
  // Inclusive voxel index range along i, j, k.
  std::array<std::int64_t, 3> minIndex{0, 0, 0};
  std::array<std::int64_t, 3> maxIndex{0, 0, 0};
  // Axis-aligned box in LPS mm enclosing the outer voxel edges (each voxel
  // extends half a spacing either side of its centre), i.e. the physical
  // extent. For oblique volumes it encloses the eight corners of the index box.
  Vec3 minLpsMm{0, 0, 0};
  Vec3 maxLpsMm{0, 0, 0};
  // Extent along the voxel axes in mm: (max − min + 1) × spacing.
  Vec3 sizeMm{0, 0, 0};
};

struct LabelStatistics {
  std::uint8_t value = 0;
  std::string name;  // from the label table, "label N" when the table lacks it
  std::int64_t voxelCount = 0;
  double volumeMl = 0.0;
  Vec3 centroidLpsMm{0, 0, 0};  // mean of the voxel centres
  LabelBoundingBox bbox;
  bool touchesFovEdge = false;
  std::uint8_t fovFaces = 0;  // FovFace bits

  // HU statistics; only when computed with a CT (hasHu).
  bool hasHu = false;
  double huMean = 0.0;
  double huStd = 0.0;  // population standard deviation
  double huMedian = 0.0;
  double huP05 = 0.0;
  double huP95 = 0.0;
  int huMin = 0;
  int huMax = 0;
};

struct StatisticsOptions {
  // Report label 0 as well (its HU histogram is then built too, which costs
  // time on mostly-empty scans).
  bool includeBackground = false;
  const CancelToken* cancel = nullptr;
};

// One entry per label value present in `labels`, sorted by value. The CT and
// the label map must share their geometry (kInvalidArgument otherwise).
// One parallel pass over slices with per-thread HU histograms, merged.
Result<std::vector<LabelStatistics>> computeLabelStatistics(VolumeView ct, const LabelMap& labels,
                                                            const StatisticsOptions& options = {});

// Labels only: counts, mL, centroid, extent and edge contact (hasHu false).
Result<std::vector<LabelStatistics>> computeLabelStatistics(const LabelMap& labels,
                                                            const StatisticsOptions& options = {});

// Writes one JSON object: {"units": ..., "frame": "LPS", "labels": [...]}, so
// it can be embedded under a key of a larger report. Values absent without a
// CT are omitted.
void statisticsToJson(JsonWriter& writer, const std::vector<LabelStatistics>& statistics,
                      const Geometry& geometry);

// CSV with a header row; one row per label. HU columns are empty without a CT.
std::string statisticsToCsv(const std::vector<LabelStatistics>& statistics,
                            const Geometry& geometry);
// Written atomically (temporary file, then rename).
Status writeStatisticsCsv(const std::vector<LabelStatistics>& statistics, const Geometry& geometry,
                          const std::string& path);

}  // namespace tessera::imaging
