// The DICOM series a derived object (SEG, RTSTRUCT, SR) references: its
// slices' SOP instances and positions, and how the slices of a label map
// correspond to them (private to imaging/, DCMTK types).
#pragma once

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>

#include <array>
#include <mutex>
#include <string>
#include <vector>

#include "core/geometry.h"
#include "core/status.h"

namespace tessera::imaging::dicom {

// DCMTK logs to stderr; its warnings ("skipping rest of dataset" when only
// the header is read) and errors are not for a person to act on: Tessera's
// messages say what went wrong, with DCMTK's condition text. Call before
// using DCMTK.
void quietDcmtk();

// An attribute's value(s) as text; empty when absent.
std::string text(DcmItem& item, const DcmTagKey& tag);

// Loads a file's attributes before `stopAt` (by default everything but the
// pixel data).
OFCondition loadHeader(DcmFileFormat& file, const std::string& path,
                       const DcmTagKey& stopAt = DCM_PixelData);

// The SOP Class UID of a DICOM file; empty when the file is not one.
std::string sopClassOf(const std::string& path);

// Saves `file` (explicit VR little endian) through a temporary file renamed
// when complete; `what` names the object in the error ("the DICOM-SEG").
Status saveAtomically(DcmFileFormat& file, const std::string& path, const std::string& what);

// The files of series `seriesUid` of `path` (a DICOM folder or file; empty
// UID: the series readVolume picks), in slice order; kNotFound otherwise.
Result<std::vector<std::string>> seriesFiles(const std::string& path, const std::string& seriesUid);

// One source slice (a single-frame image file of the source series).
struct SourceSlice {
  std::string file;
  std::string sopClassUid, sopInstanceUid;
  Vec3 positionMm{0, 0, 0};
};

struct SourceSeries {
  std::string patientId, studyUid, seriesUid, frameOfReferenceUid;
  std::array<double, 6> orientation{};
  int rows = 0, columns = 0;
  std::vector<SourceSlice> slices;  // in the listing's order (along the normal)
};

// Reads the headers of a series of `path` (a DICOM folder or file; the
// series `seriesUid`, or the one readVolume picks). `what` names the object
// that needs it in messages ("a DICOM-SEG"). Multi-frame files are refused
// (kUnsupported).
Result<SourceSeries> readSourceSeries(const std::string& path, const std::string& seriesUid,
                                      const std::string& what);

// For each slice k of `g`, the index of the source slice at its position;
// kInvalidArgument naming the first mismatch (size, orientation, a slice
// more than 10 % of the smallest spacing from every source slice).
Result<std::vector<std::size_t>> matchSlices(const Geometry& g, const SourceSeries& source,
                                             const std::string& path, const std::string& what);

// A DICOM file to send: its SOP class and instance and transfer syntax,
// from its meta header.
struct DicomInstance {
  std::string path, sopClass, sopInstance, transferSyntax;
};

// The DICOM files among `paths` (folders searched recursively, hidden
// entries skipped), in path order; files that are not DICOM Part 10 files go
// to `skipped`. kNotFound for a path that does not exist.
Status collectInstances(const std::vector<std::string>& paths, std::vector<DicomInstance>* out,
                        std::vector<std::string>* skipped);

// Held while a DICOM-SEG, SR or RT Structure Set is built and written:
// DCMTK 3.6.7's dcmsr/cmr template code keeps process-wide state, and two
// service workers writing SRs at once failed ("cannot add a derivation").
std::mutex& derivedObjectMutex();

}  // namespace tessera::imaging::dicom
