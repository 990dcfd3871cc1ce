#include "imaging/internal/dicom_source.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>

#include "core/files.h"
#include "imaging/dicom/dicom.h"
#include "imaging/internal/dicom_values.h"

namespace tessera::imaging::dicom {
namespace fs = std::filesystem;

void quietDcmtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const char* name : {"dcmtk.dcmdata", "dcmtk.dcmiod", "dcmtk.dcmfg", "dcmtk.dcmseg",
                             "dcmtk.dcmsr", "dcmtk.dcmsr.cmr", "dcmtk.dcmrt", "dcmtk.dcmnet"})
      OFLog::getLogger(name).setLogLevel(OFLogger::FATAL_LOG_LEVEL);
  });
}

std::string text(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad()) return {};
  return value.c_str();
}

OFCondition loadHeader(DcmFileFormat& file, const std::string& path, const DcmTagKey& stopAt) {
  return file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                               ERM_autoDetect, stopAt);
}

std::string sopClassOf(const std::string& path) {
  quietDcmtk();
  DcmFileFormat file;
  if (loadHeader(file, path, DCM_StudyDate).bad()) return {};
  return text(*file.getDataset(), DCM_SOPClassUID);
}

Status saveAtomically(DcmFileFormat& file, const std::string& path, const std::string& what) {
  AtomicFile out(path);
  if (OFCondition c = file.saveFile(out.tempPath().c_str(), EXS_LittleEndianExplicit); c.bad())
    return incompleteWriteError(out.tempPath(), what + " could not be written: " + c.text(), path);
  return out.commit();
}

Result<std::vector<std::string>> seriesFiles(const std::string& path,
                                             const std::string& seriesUid) {
  TESSERA_ASSIGN_OR_RETURN(DicomListing listing, listDicomSeries(path));
  int index = defaultSeriesIndex(listing);
  if (!seriesUid.empty()) {
    index = -1;
    for (std::size_t i = 0; i < listing.series.size(); ++i)
      if (listing.series[i].seriesUid == seriesUid) index = static_cast<int>(i);
    if (index < 0)
      return Status(StatusCode::kNotFound, "no DICOM series with UID " + seriesUid, path);
  }
  if (index < 0) return Status(StatusCode::kNotFound, "no DICOM series", path);
  return listing.series[static_cast<std::size_t>(index)].files;
}

Result<SourceSeries> readSourceSeries(const std::string& path, const std::string& seriesUid,
                                      const std::string& what) {
  quietDcmtk();
  if (path.empty())
    return Status(StatusCode::kInvalidArgument,
                  what +
                      " references the DICOM series it was segmented from; the input is "
                      "not a DICOM series");
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> files, seriesFiles(path, seriesUid));
  SourceSeries source;
  for (const std::string& file : files) {
    DcmFileFormat format;
    const OFCondition loaded = loadHeader(format, file);
    if (loaded.bad())
      return Status(StatusCode::kCorruptData,
                    std::string("cannot read a file of the source series: ") + loaded.text(), file);
    DcmDataset& ds = *format.getDataset();
    Sint32 frames = 1;
    if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames > 1)
      return Status(StatusCode::kUnsupported,
                    what + " of a series of multi-frame images is not supported", file);
    SourceSlice slice;
    slice.file = file;
    slice.sopClassUid = text(ds, DCM_SOPClassUID);
    slice.sopInstanceUid = text(ds, DCM_SOPInstanceUID);
    for (unsigned long i = 0; i < 3; ++i)
      if (ds.findAndGetFloat64(DCM_ImagePositionPatient, slice.positionMm[i], i).bad())
        return Status(StatusCode::kCorruptData, "a source slice has no Image Position (Patient)",
                      file);
    if (slice.sopClassUid.empty() || slice.sopInstanceUid.empty())
      return Status(StatusCode::kCorruptData, "a source slice has no SOP Class/Instance UID", file);
    if (source.slices.empty()) {
      for (unsigned long i = 0; i < 6; ++i)
        if (ds.findAndGetFloat64(DCM_ImageOrientationPatient, source.orientation[i], i).bad())
          return Status(StatusCode::kCorruptData, "the source has no Image Orientation (Patient)",
                        file);
      Uint16 rows = 0, columns = 0;
      ds.findAndGetUint16(DCM_Rows, rows);
      ds.findAndGetUint16(DCM_Columns, columns);
      source.rows = rows;
      source.columns = columns;
      source.patientId = text(ds, DCM_PatientID);
      source.studyUid = text(ds, DCM_StudyInstanceUID);
      source.seriesUid = text(ds, DCM_SeriesInstanceUID);
      source.frameOfReferenceUid = text(ds, DCM_FrameOfReferenceUID);
    }
    source.slices.push_back(std::move(slice));
  }
  return source;
}

namespace {

double distance(const Vec3& a, const Vec3& b) {
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                   (a[2] - b[2]) * (a[2] - b[2]));
}

}  // namespace

Result<std::vector<std::size_t>> matchSlices(const Geometry& g, const SourceSeries& source,
                                             const std::string& path, const std::string& what) {
  if (source.rows != g.size[1] || source.columns != g.size[0])
    return Status(StatusCode::kInvalidArgument,
                  "the label map is " + std::to_string(g.size[0]) + "x" +
                      std::to_string(g.size[1]) + " voxels per slice, the source series " +
                      std::to_string(source.columns) + "x" + std::to_string(source.rows),
                  path);
  for (int c = 0; c < 2; ++c)
    for (int r = 0; r < 3; ++r)
      if (std::abs(g.direction[3 * r + c] - source.orientation[3 * c + r]) > 1e-3)
        return Status(StatusCode::kInvalidArgument,
                      "the label map's orientation is not that of the source series", path);
  const double tolerance = 0.1 * std::min({g.spacingMm[0], g.spacingMm[1], g.spacingMm[2]});
  std::vector<std::size_t> match(static_cast<std::size_t>(g.size[2]));
  for (std::int64_t k = 0; k < g.size[2]; ++k) {
    const Vec3 position = g.worldFromVoxel({0.0, 0.0, static_cast<double>(k)});
    std::size_t best = 0;
    double bestDistance = INFINITY;
    for (std::size_t s = 0; s < source.slices.size(); ++s) {
      const double d = distance(position, source.slices[s].positionMm);
      if (d < bestDistance) bestDistance = d, best = s;
    }
    if (bestDistance > tolerance)
      return Status(StatusCode::kInvalidArgument,
                    "slice " + std::to_string(k + 1) + " of the label map lies " +
                        decimalString(bestDistance) +
                        " mm from the nearest slice of the source series; " + what +
                        " needs the source's geometry",
                    path);
    match[static_cast<std::size_t>(k)] = best;
  }
  return match;
}

Status collectInstances(const std::vector<std::string>& paths, std::vector<DicomInstance>* out,
                        std::vector<std::string>* skipped) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code error;
    if (fs::is_directory(p, error)) {
      for (auto it = fs::recursive_directory_iterator(p, error);
           it != fs::recursive_directory_iterator(); it.increment(error)) {
        if (it->path().filename().string().rfind('.', 0) == 0) {
          if (it->is_directory(error)) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file(error)) files.push_back(it->path().string());
      }
    } else if (fs::is_regular_file(p, error)) {
      files.push_back(p);
    } else {
      return Status(StatusCode::kNotFound, "no such file or folder", p);
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    DcmFileFormat format;
    if (format
            .loadFileUntilTag(f.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_fileOnly,
                              DCM_StudyDate)
            .bad()) {
      skipped->push_back(f);
      continue;
    }
    DicomInstance i;
    i.path = f;
    DcmMetaInfo& meta = *format.getMetaInfo();
    i.sopClass = text(meta, DCM_MediaStorageSOPClassUID);
    i.sopInstance = text(meta, DCM_MediaStorageSOPInstanceUID);
    i.transferSyntax = text(meta, DCM_TransferSyntaxUID);
    if (i.sopClass.empty() || i.sopInstance.empty() || i.transferSyntax.empty()) {
      skipped->push_back(f);
      continue;
    }
    out->push_back(std::move(i));
  }
  return Status();
}

std::mutex& derivedObjectMutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace tessera::imaging::dicom
