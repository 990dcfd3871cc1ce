// Reading and writing CT volumes and label maps (NIfTI .nii/.nii.gz, NRRD
// .nrrd/.nhdr, MetaImage .mha/.mhd through ITK; DICOM files and series
// through imaging/dicom), with geometry kept exactly (spacing, origin,
// direction; LPS internally). No toolkit type crosses this header. Writers
// go through a temporary file and rename, so a failed write never leaves a
// partial output.
#pragma once

#include <string>
#include <vector>

#include "core/image.h"
#include "core/progress.h"
#include "core/status.h"

namespace tessera::imaging {

enum class FileFormat { kUnknown, kNifti, kNrrd, kMetaImage, kDicomFile, kDicomDirectory };

// By extension (case-insensitive); a directory is a DICOM directory.
FileFormat formatFromPath(const std::string& path);
// Output paths: a path ending in '/' names a DICOM series directory
// (kDicomDirectory); otherwise by extension. An existing directory without
// the trailing '/' is kUnknown (refused as an output file).
FileFormat outputFormatFromPath(const std::string& path);
const char* formatName(FileFormat format);

// Voxel component type as stored in the file.
enum class ComponentType {
  kUnknown,
  kUInt8,
  kInt8,
  kUInt16,
  kInt16,
  kUInt32,
  kInt32,
  kFloat32,
  kFloat64,
  kOther
};
const char* componentTypeName(ComponentType type);

struct ImageHeader {
  FileFormat format = FileFormat::kUnknown;
  Geometry geometry;  // 2D images are read as one slice (size[2] == 1)
  ComponentType componentType = ComponentType::kUnknown;  // as stored, before rescale
  int fileDimensions = 0;  // as stored: 2, 3 or 4 (4 only with one time point)
  int components = 1;
  // Stored value -> HU (NIfTI scl_slope/scl_inter, DICOM rescale of the
  // first slice); readVolume applies it.
  double rescaleSlope = 1.0;
  double rescaleIntercept = 0.0;
};

// What a reader noticed without refusing (another series exists, uneven
// slice spacing, values rounded, a modality other than CT; also logged),
// and the header of what was read.
struct ReadReport {
  std::string seriesUid;  // DICOM: the series that was read
  ImageHeader header;
  std::vector<std::string> warnings;
};

struct ReadOptions {
  // DICOM directories: the series to read; empty picks the largest CT series.
  std::string seriesUid;
  ProgressSink* progress = nullptr;
  const CancelToken* cancel = nullptr;
  ReadReport* report = nullptr;  // filled when given; warnings are appended
};

// Header only: geometry and voxel type, no voxel data. Refuses files whose
// claimed size could not be allocated, before any allocation. DICOM: the
// series readVolume would read (seriesUid, or the default).
Result<ImageHeader> readHeader(const std::string& path, const std::string& seriesUid = {});

// CT in Hounsfield units. Integer types are copied exactly; floating-point
// voxels are rounded (with a warning when that changed values); values
// outside int16 are refused (not silently clipped).
Result<Volume> readVolume(const std::string& path, const ReadOptions& options = {});

// Label volume with integer values 0..255. The label table is the default
// table (names for values the file holds but the table lacks read "label N").
Result<LabelMap> readLabelMap(const std::string& path);

// The files whose bytes a volume file's voxels come from: `path` and, for a
// MetaImage (.mhd) or NRRD (.nhdr) header with a detached data file, the
// data file it names (refused as the reader refuses it when it lies outside
// the header's folder). What identifies an input in the batch manifest.
Result<std::vector<std::string>> volumeSourceFiles(const std::string& path);

// The checks writeVolume makes before writing anything (format, parent
// directory exists and is writable, DICOM target new or empty), so that
// commands fail before long work.
Status checkVolumeOutput(const std::string& path);

// NIfTI, NRRD or MetaImage by extension; a path ending in '/' writes a
// DICOM CT series into that directory (see writeDicomSeries).
Status writeVolume(const Volume& volume, const std::string& path, ProgressSink* progress = nullptr);
Status writeLabelMap(const LabelMap& labels, const std::string& path);
// Float maps (probabilities, uncertainty) for QA.
Status writeFloatImage(const Image<float>& image, const std::string& path);

}  // namespace tessera::imaging
