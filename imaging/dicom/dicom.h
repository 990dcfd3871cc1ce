// DICOM: listing the series of a directory, reading one as a Volume in
// Hounsfield units, and writing a Volume as a CT series. No toolkit type
// crosses this header.
//
// Reading never produces a silently wrong volume: slices are sorted by their
// position along the slice normal (not by file name or instance number);
// rescale slope/intercept are applied per slice; missing slices, duplicate
// positions, gantry tilt, mixed image sizes, colour images, undecodable
// transfer syntaxes and missing pixel data are refused with the reason;
// uneven spacing and non-CT modalities are read with a warning. Warnings
// reach the caller through ReadOptions::report and are logged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/image.h"
#include "core/progress.h"
#include "imaging/io/volume_io.h"

namespace tessera::imaging {

// One series as found on disk, from the file headers alone (no pixel data).
struct DicomSeriesInfo {
  std::string seriesUid;
  std::string studyUid;
  std::string patientName;  // as stored ("Doe^Jane"), converted to UTF-8
  std::string patientId;
  std::string studyDate;  // YYYYMMDD as stored
  std::string studyDescription;
  std::string seriesDescription;
  std::string seriesNumber;
  std::string modality;        // "CT", "MR", ...
  std::string transferSyntax;  // name of the first file's transfer syntax
  int rows = 0;
  int columns = 0;
  std::int64_t sliceCount =
      0;  // 2D images: single-frame files plus the frames of multi-frame files
  // Sorted by position along the slice normal where the headers allow.
  std::vector<std::string> files;
  // Problems seen in the headers. Those that stop reading start with
  // "cannot be read: ".
  std::vector<std::string> warnings;
  bool readable = true;  // false when a warning says the series cannot be read
};

struct DicomListing {
  // Largest first (by slice count); ties keep the order of their UIDs.
  std::vector<DicomSeriesInfo> series;
  std::int64_t filesScanned = 0;
  std::int64_t nonDicomFiles = 0;    // files skipped because they are not DICOM
  std::int64_t nonImageObjects = 0;  // DICOM objects without image attributes (reports, plans)
  std::vector<std::string> unreadableFiles;  // DICOM-looking files that could not be parsed
};

// Lists the series of a directory (searched recursively, hidden files
// skipped) or of a single DICOM file. Fails when the path does not exist,
// the directory is empty or holds no DICOM image.
Result<DicomListing> listDicomSeries(const std::string& path);

// Index into listing.series of the series readVolume picks when no UID is
// given: the largest CT series, else the largest series. -1 when empty.
int defaultSeriesIndex(const DicomListing& listing);

// Reads a DICOM file (all its frames) or one series of a directory
// (options.seriesUid, or defaultSeriesIndex). When a directory holds several
// series and none was chosen, the report and the log name the series read
// and say that others exist.
Result<Volume> readDicomVolume(const std::string& path, const ReadOptions& options);

// Geometry and stored voxel type of what readDicomVolume would read, from
// the headers alone.
Result<ImageHeader> readDicomHeader(const std::string& path, const std::string& seriesUid = {});

// The patient and study a written series belongs to. Empty patient name and
// ID are written empty (never an invented identity); `tessera convert` says
// so when its input carries none.
struct DicomWriteOptions {
  std::string patientName;
  std::string patientId;
  std::string studyDescription;
  std::string studyDate, studyTime;  // DA and TM; empty date: now
  std::string seriesDescription = "Tessera volume";
  // Empty: new UIDs are generated.
  std::string studyUid;
  std::string seriesUid;
  ProgressSink* progress = nullptr;
  const CancelToken* cancel = nullptr;
};

// Writes one CT Image Storage file per slice (IM000001.dcm, ...) into
// `directory`, which must not exist yet or be empty; its parent must exist.
// Voxels are stored as int16 HU (slope 1, intercept 0); each file carries
// ImagePositionPatient, ImageOrientationPatient, PixelSpacing,
// SliceThickness, SpacingBetweenSlices and the series UIDs. The files are
// written into a temporary directory beside the target and moved into place
// only when all are complete.
//
// DICOM slices are always stacked along rows × columns; a volume whose
// direction matrix has determinant -1 is therefore read back with its slice
// order reversed (same world positions, right-handed direction).
Status writeDicomSeries(const Volume& volume, const std::string& directory,
                        const DicomWriteOptions& options = {});

// The target checks writeDicomSeries makes before writing.
Status checkDicomSeriesTarget(const std::string& directory);

}  // namespace tessera::imaging
