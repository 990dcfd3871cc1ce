// DICOM Segmentation objects (DICOM-SEG, PS3.3 A.51): a label map written
// as a binary SEG that references the CT series it was segmented from, and a
// SEG described or read back onto its CT. DCMTK's dcmseg encodes and decodes;
// no toolkit type crosses this header.
//
// What a written SEG holds:
// - the source's patient, study and Frame of Reference (taken from the source
//   files, never invented), its own new series and instance;
// - one segment per label that holds at least one voxel, numbered 1, 2, ... in
//   the order of the label values, with its name as Segment Label, coded
//   category and type (SNOMED CT; defaultSegmentProperty, overridable), the
//   label's colour as recommended display CIELab, algorithm type AUTOMATIC and
//   the model's name and version as algorithm identification (family "Artificial
//   Intelligence", DCM 123110);
// - one 1-bit frame per segment and source slice that holds the label, with its
//   Image Position (Patient), a derivation reference to the source slice's SOP
//   instance and dimension indices (segment number, slice position);
// - Pixel Spacing, Slice Thickness and Image Orientation shared by all frames;
//   the Common Instance Reference module naming every source instance.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/geometry.h"
#include "core/image.h"
#include "core/status.h"
#include "imaging/dicom/deidentify.h"

namespace tessera::imaging {

// A coded concept (PS3.3 8.8): code value, coding scheme ("SCT" for SNOMED
// CT, "DCM" for DICOM's own codes) and the code's meaning as a person reads it.
struct CodedConcept {
  std::string value;
  std::string scheme;
  std::string meaning;
};

// What a segment is: a Segmented Property Category (CID 7150: "Tissue",
// "Anatomical Structure", ...) and Type (CID 7166 tissues, CID 7192 anatomy).
struct SegmentProperty {
  CodedConcept category;
  CodedConcept type;
};

// Codes for the label names Tessera's models use (soft_tissue, fat, bone,
// lung, liver, spleen, kidney, brain, internal_air) and a few synonyms; nullopt for
// names Tessera does not know. The table is documented in docs/HOSPITAL.md.
std::optional<SegmentProperty> defaultSegmentProperty(const std::string& labelName);

struct DicomSegOptions {
  // The DICOM directory (or file) the labels were segmented from, and the
  // series in it (empty: the series readVolume picks).
  std::string sourcePath;
  std::string seriesUid;
  // Segmentation algorithm identification: the model.
  std::string algorithmName = "tessera";
  std::string algorithmVersion = "0";
  std::string algorithmParameters;  // free text, e.g. "mode=sparse"
  std::string seriesDescription = "Tessera segmentation";
  std::string seriesNumber = "900";
  // Per label name, replacing defaultSegmentProperty. A label found in
  // neither is written as category Tissue, type Tissue with its name as label.
  std::map<std::string, SegmentProperty> properties;
  DeidentifyOptions deidentify;  // when enabled, the SEG is de-identified (deidentify.h)
};

// Writes `labels` as a binary DICOM-SEG file at `path`, through a temporary
// file renamed when complete. The label map must have the source series'
// geometry (same rows, columns, orientation, and a source slice at every
// slice position); otherwise kInvalidArgument says what differs. A map
// without any label voxel is refused (a SEG needs a segment), as is a source
// made of multi-frame files (kUnsupported).
Status writeDicomSeg(const LabelMap& labels, const std::string& path,
                     const DicomSegOptions& options);

struct DicomSegSegment {
  int number = 0;  // Segment Number, from 1
  std::string label;
  SegmentProperty property;
  std::string algorithmType;  // AUTOMATIC, SEMIAUTOMATIC, MANUAL
  std::string algorithmName;
  std::int64_t frames = 0;                   // frames that refer to this segment
  std::array<std::uint8_t, 3> rgb{0, 0, 0};  // from the recommended CIELab, else 0
};

struct DicomSegInfo {
  std::string patientName, patientId, studyUid, seriesUid, sopInstanceUid;
  std::string seriesDescription, frameOfReferenceUid;
  std::vector<std::string> referencedSeriesUids;  // the source series
  std::string segmentationType;                   // BINARY or FRACTIONAL
  int rows = 0, columns = 0;
  std::int64_t frames = 0;
  std::vector<DicomSegSegment> segments;
};

// True when `path` is a DICOM file of the Segmentation Storage SOP class
// (reads the header only).
bool isDicomSegFile(const std::string& path);

// The header of a SEG file: identity, references, segments and frame counts.
// kCorruptData / kUnsupported with the reason for files that are not a
// readable SEG.
Result<DicomSegInfo> describeDicomSeg(const std::string& path);

// Reads a SEG onto the geometry of its CT: segment n becomes the value of the
// label of the same name in `names` when it has one, else n; the table of
// the result names every segment. Frames are placed by their Image Position
// (Patient); a SEG whose frames lie off `geometry`'s slices, whose
// orientation or pixel spacing differ, or whose segments overlap is refused
// with the reason.
Result<LabelMap> readDicomSeg(const std::string& path, const Geometry& geometry,
                              const LabelTable* names = nullptr);

}  // namespace tessera::imaging
