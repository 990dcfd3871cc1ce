// DICOM Structured Report of the measurements per label (TID 1500 "Imaging
// Measurement Report", DCMTK's dcmsr/cmr): for every segment of a DICOM-SEG
// one volumetric ROI measurement group (TID 1411) that references the
// segment, names its finding with the segment's code and holds the volume
// (mL), the mean and standard deviation of the attenuation (HU), and whether
// the structure touches the edge of the field of view. Written into the
// source's patient and study, with the source images in its image library
// and the SEG and the source images as evidence. No toolkit type crosses
// this header.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "imaging/dicom/deidentify.h"
#include "imaging/stats/label_stats.h"

namespace tessera::imaging {

struct DicomSrOptions {
  std::string sourcePath;  // the DICOM series the labels were segmented from
  std::string seriesUid;   // empty: the series readVolume picks
  std::string segPath;     // the DICOM-SEG written from the same labels
  std::string algorithmName = "tessera";
  std::string algorithmVersion = "0";
  std::string seriesDescription = "Tessera measurements";
  std::string seriesNumber = "901";
  // When enabled, the report is de-identified (deidentify.h); the SEG must
  // then have been written de-identified with the same key.
  DeidentifyOptions deidentify;
};

// Writes the report at `path` through a temporary file renamed when
// complete. Every label of `statistics` other than the background must be a
// segment of the SEG (matched by name); HU values need statistics computed
// with the CT (hasHu). kInvalidArgument says what does not match.
Status writeDicomSr(const std::vector<LabelStatistics>& statistics, const std::string& path,
                    const DicomSrOptions& options);

struct DicomSrMeasurement {
  std::string trackingId;  // the label name
  std::string finding;     // code meaning of the finding
  int referencedSegment = 0;
  std::string referencedSegUid;
  double volumeMl = 0.0, meanHu = 0.0, sdHu = 0.0;
  bool touchesFovEdge = false;
};

// The measurement groups of a report Tessera wrote (for `tessera info` and
// the tests); kUnsupported for other objects.
Result<std::vector<DicomSrMeasurement>> readDicomSrMeasurements(const std::string& path);

bool isDicomSrFile(const std::string& path);

}  // namespace tessera::imaging
