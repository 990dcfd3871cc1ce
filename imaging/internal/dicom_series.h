// DICOM image headers and series geometry, private to imaging/: what one
// file says about its frames, and how a set of frames becomes one volume
// (sorting, spacing, tilt and gap checks).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/geometry.h"
#include "core/status.h"
#include "imaging/internal/dicom_parser.h"

namespace tessera::imaging::dicom {

// Geometry and rescale of one 2D frame.
struct FrameInfo {
  bool hasPosition = false;
  Vec3 positionMm{0, 0, 0};  // ImagePositionPatient: LPS centre of the first voxel
  bool hasOrientation = false;
  std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};  // row cosine, column cosine
  bool hasPixelSpacing = false;
  double rowSpacingMm = 1.0;     // PixelSpacing[0]: between rows (along a column, j)
  double columnSpacingMm = 1.0;  // PixelSpacing[1]: between columns (along a row, i)
  double sliceThicknessMm = 0.0;
  double spacingBetweenSlicesMm = 0.0;
  double slope = 1.0;
  double intercept = 0.0;
};

// One DICOM file that holds an image (single- or multi-frame).
struct ImageFile {
  std::string path;
  std::string transferSyntaxUid;
  std::string sopClassUid;
  std::string patientName, patientId, studyUid, studyDate, studyDescription;
  std::string seriesUid, seriesDescription, seriesNumber, modality;
  std::string photometric;
  int rows = 0, columns = 0;
  int samplesPerPixel = 1;
  int bitsAllocated = 16, bitsStored = 16, highBit = 15, pixelRepresentation = 0;
  bool floatPixels = false;
  bool pixelDataPresent = false;
  std::vector<FrameInfo> frames;  // one per frame (NumberOfFrames)
  // A reason this file cannot be read as CT voxels (colour, missing pixel
  // data, multi-frame without positions...); empty when it can.
  std::string problem;
};

// Header fields of a parsed file. Fails for DICOM objects without image
// attributes (kNotFound, "no image") and for malformed values.
Result<ImageFile> describeImageFile(const DicomFile& file);

// Where each slice of the volume comes from.
struct SliceSource {
  int file = 0;   // index into the ImageFile list given to planSeries
  int frame = 0;  // frame within that file
};

struct SeriesPlan {
  Geometry geometry;
  std::vector<SliceSource> slices;  // slice k of the volume
  std::vector<std::string> warnings;
};

// Builds the volume geometry from a set of image files of one series:
// sorts frames by position along the slice normal and checks sizes,
// orientation, duplicate positions, gaps (> 1.5 × median spacing), gantry
// tilt and uneven spacing. Refusals are kUnsupported / kCorruptData with a
// reason a person understands.
Result<SeriesPlan> planSeries(const std::vector<ImageFile>& files);

// Converts DICOM text to UTF-8 given SpecificCharacterSet: ISO_IR 192 is
// kept, Latin-1 (ISO_IR 100 or none) is converted, other bytes >= 0x80 of
// unhandled character sets become '?'.
std::string toUtf8(const std::string& text, const std::string& characterSet);

}  // namespace tessera::imaging::dicom
