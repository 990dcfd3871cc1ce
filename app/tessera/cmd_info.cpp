// tessera info PATH [--json] [--series UID]
#include <algorithm>
#include <cstdio>
#include <optional>

#include "app/tessera/commands.h"
#include "core/json.h"
#include "imaging/dicom/dicom.h"
#include "imaging/dicom/dicom_rtstruct.h"
#include "imaging/dicom/dicom_seg.h"
#include "imaging/dicom/dicom_sr.h"
#include "imaging/io/volume_io.h"

namespace tessera::cli {
namespace {
using namespace tessera::imaging;

struct HuStats {
  std::int64_t min = 0, max = 0;
  double mean = 0.0;
};

HuStats huStats(const Volume& v) {
  const auto [lo, hi] = std::minmax_element(v.data(), v.data() + v.voxelCount());
  double sum = 0.0;
  for (std::int64_t i = 0; i < v.voxelCount(); ++i) sum += v.data()[i];
  return {*lo, *hi, sum / static_cast<double>(v.voxelCount())};
}

struct Info {
  std::string path;
  FileFormat format = FileFormat::kUnknown;
  std::optional<DicomListing> listing;
  std::string selectedSeries;
  std::optional<ImageHeader> header;
  std::optional<HuStats> hu;
  std::vector<std::string> warnings;
  std::optional<Error> error;
};

std::string orNone(const std::string& text) {
  return text.empty() ? "(none)" : text;
}

std::string number(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

std::string triple(const Vec3& v, const char* format) {
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, format, v[0], v[1], v[2]);
  return buffer;
}

Vec3 extentMm(const Geometry& g) {
  return {static_cast<double>(g.size[0]) * g.spacingMm[0],
          static_cast<double>(g.size[1]) * g.spacingMm[1],
          static_cast<double>(g.size[2]) * g.spacingMm[2]};
}

void printText(const Info& info) {
  std::printf("%s\n", info.path.c_str());
  std::printf("  format        %s", formatName(info.format));
  if (info.listing) {
    for (const DicomSeriesInfo& s : info.listing->series)
      if (s.seriesUid == info.selectedSeries) std::printf(" (%s)", s.transferSyntax.c_str());
  }
  std::printf("\n");
  if (info.header) {
    const ImageHeader& h = *info.header;
    const Geometry& g = h.geometry;
    std::printf("  voxel type    %s", componentTypeName(h.componentType));
    if (h.rescaleSlope != 1.0 || h.rescaleIntercept != 0.0)
      std::printf(" (HU = %s x stored %s %s)", number(h.rescaleSlope).c_str(),
                  h.rescaleIntercept < 0 ? "-" : "+", number(std::abs(h.rescaleIntercept)).c_str());
    std::printf("\n  size          %lld x %lld x %lld voxels\n", static_cast<long long>(g.size[0]),
                static_cast<long long>(g.size[1]), static_cast<long long>(g.size[2]));
    std::printf("  spacing       %s x %s x %s mm\n", number(g.spacingMm[0]).c_str(),
                number(g.spacingMm[1]).c_str(), number(g.spacingMm[2]).c_str());
    std::printf("  origin        %s mm (LPS)\n", triple(g.originMm, "%.4f, %.4f, %.4f").c_str());
    std::printf("  direction     [%s; %s; %s]\n",
                triple({g.direction[0], g.direction[1], g.direction[2]}, "%.6g %.6g %.6g").c_str(),
                triple({g.direction[3], g.direction[4], g.direction[5]}, "%.6g %.6g %.6g").c_str(),
                triple({g.direction[6], g.direction[7], g.direction[8]}, "%.6g %.6g %.6g").c_str());
    std::printf("  orientation   %s\n", orientationCode(g.direction).c_str());
    std::printf("  extent        %s mm\n", triple(extentMm(g), "%.2f x %.2f x %.2f").c_str());
  }
  if (info.hu)
    std::printf("  HU            min %lld, max %lld, mean %.2f\n",
                static_cast<long long>(info.hu->min), static_cast<long long>(info.hu->max),
                info.hu->mean);
  for (const std::string& w : info.warnings) std::printf("  warning       %s\n", w.c_str());
  if (!info.listing) return;
  const DicomListing& l = *info.listing;
  std::printf("DICOM series: %zu (%lld file%s scanned", l.series.size(),
              static_cast<long long>(l.filesScanned), l.filesScanned == 1 ? "" : "s");
  if (l.nonDicomFiles) std::printf(", %lld not DICOM", static_cast<long long>(l.nonDicomFiles));
  if (l.nonImageObjects)
    std::printf(", %lld DICOM objects without images", static_cast<long long>(l.nonImageObjects));
  if (!l.unreadableFiles.empty()) std::printf(", %zu damaged", l.unreadableFiles.size());
  std::printf(")\n");
  for (const DicomSeriesInfo& s : l.series) {
    const bool selected = s.seriesUid == info.selectedSeries;
    std::printf("%s %s%s\n", selected ? "  *" : "   ",
                s.seriesUid.empty() ? "(no series UID)" : s.seriesUid.c_str(),
                selected ? "  <- read" : "");
    std::printf("      patient     %s (ID %s)\n", s.patientName.c_str(), s.patientId.c_str());
    std::printf("      study       %s, date %s\n", orNone(s.studyDescription).c_str(),
                orNone(s.studyDate).c_str());
    std::printf("      series      number %s, %s\n", orNone(s.seriesNumber).c_str(),
                orNone(s.seriesDescription).c_str());
    std::printf("      images      %s, %lld slice%s of %d x %d, %s\n", s.modality.c_str(),
                static_cast<long long>(s.sliceCount), s.sliceCount == 1 ? "" : "s", s.columns,
                s.rows, s.transferSyntax.c_str());
    for (const std::string& w : s.warnings) std::printf("      warning     %s\n", w.c_str());
  }
  for (const std::string& u : l.unreadableFiles) std::printf("  damaged: %s\n", u.c_str());
}

void writeVec(JsonWriter& w, const char* key, const Vec3& v) {
  w.key(key).beginArray();
  for (double x : v) w.value(x);
  w.endArray();
}

void writeStrings(JsonWriter& w, const char* key, const std::vector<std::string>& items) {
  w.key(key).beginArray();
  for (const std::string& s : items) w.value(s);
  w.endArray();
}

std::string toJson(const Info& info) {
  JsonWriter w;
  w.beginObject();
  w.field("path", info.path);
  w.field("format", formatName(info.format));
  if (info.header) {
    const ImageHeader& h = *info.header;
    const Geometry& g = h.geometry;
    w.field("voxel_type", componentTypeName(h.componentType));
    w.key("rescale").beginObject();
    w.field("slope", h.rescaleSlope).field("intercept", h.rescaleIntercept);
    w.endObject();
    w.key("size").beginArray();
    for (std::int64_t s : g.size) w.value(s);
    w.endArray();
    writeVec(w, "spacing_mm", g.spacingMm);
    writeVec(w, "origin_mm_lps", g.originMm);
    w.key("direction").beginArray();
    for (int r = 0; r < 3; ++r) {
      w.beginArray();
      for (int c = 0; c < 3; ++c) w.value(g.direction[3 * r + c]);
      w.endArray();
    }
    w.endArray();
    w.field("orientation", orientationCode(g.direction));
    writeVec(w, "extent_mm", extentMm(g));
  }
  if (info.hu) {
    w.key("hu").beginObject();
    w.field("min", info.hu->min).field("max", info.hu->max).field("mean", info.hu->mean);
    w.endObject();
  }
  writeStrings(w, "warnings", info.warnings);
  if (info.listing) {
    const DicomListing& l = *info.listing;
    w.key("dicom").beginObject();
    w.field("files_scanned", l.filesScanned);
    w.field("non_dicom_files", l.nonDicomFiles);
    w.field("non_image_objects", l.nonImageObjects);
    writeStrings(w, "damaged_files", l.unreadableFiles);
    w.field("selected_series", info.selectedSeries);
    w.key("series").beginArray();
    for (const DicomSeriesInfo& s : l.series) {
      w.beginObject();
      w.field("series_uid", s.seriesUid).field("study_uid", s.studyUid);
      w.field("patient_name", s.patientName).field("patient_id", s.patientId);
      w.field("study_date", s.studyDate).field("study_description", s.studyDescription);
      w.field("series_number", s.seriesNumber).field("series_description", s.seriesDescription);
      w.field("modality", s.modality).field("transfer_syntax", s.transferSyntax);
      w.field("rows", s.rows).field("columns", s.columns).field("slices", s.sliceCount);
      w.field("readable", s.readable);
      writeStrings(w, "warnings", s.warnings);
      writeStrings(w, "files", s.files);
      w.endObject();
    }
    w.endArray();
    w.endObject();
  }
  if (info.error) w.field("error", info.error->toString());
  w.endObject();
  return w.str() + "\n";
}

Info collect(const std::string& path, const std::string& series) {
  Info info;
  info.path = path;
  info.format = formatFromPath(path);
  if (info.format == FileFormat::kDicomFile || info.format == FileFormat::kDicomDirectory) {
    auto listing = listDicomSeries(path);
    if (!listing.ok()) {
      info.error = listing.error();
      return info;
    }
    info.listing = std::move(*listing);
    const int index = defaultSeriesIndex(*info.listing);
    info.selectedSeries = !series.empty() ? series
                          : index >= 0
                              ? info.listing->series[static_cast<std::size_t>(index)].seriesUid
                              : std::string();
  }
  ReadReport report;
  ReadOptions options;
  options.seriesUid = series;
  options.report = &report;
  auto volume = readVolume(path, options);
  if (!volume.ok()) {
    info.error = volume.error();
    // The header may still be readable (an undecodable pixel codec, say).
    auto header = readHeader(path, series);
    if (header.ok()) info.header = *header;
    return info;
  }
  info.header = report.header;
  info.hu = huStats(*volume);
  info.warnings = report.warnings;
  return info;
}

// A DICOM-SEG file: its identity, the series it references and its segments.
int describeSeg(const std::string& path, bool json) {
  auto info = describeDicomSeg(path);
  if (!info.ok()) return fail(info.error());
  const DicomSegInfo& i = *info;
  if (json) {
    JsonWriter w;
    w.beginObject();
    w.field("path", path).field("format", "DICOM-SEG");
    w.field("patient_name", i.patientName).field("patient_id", i.patientId);
    w.field("study_uid", i.studyUid).field("series_uid", i.seriesUid);
    w.field("sop_instance_uid", i.sopInstanceUid);
    w.field("series_description", i.seriesDescription);
    w.field("frame_of_reference_uid", i.frameOfReferenceUid);
    writeStrings(w, "referenced_series", i.referencedSeriesUids);
    w.field("segmentation_type", i.segmentationType);
    w.field("rows", i.rows).field("columns", i.columns).field("frames", i.frames);
    w.key("segments").beginArray();
    for (const DicomSegSegment& s : i.segments) {
      w.beginObject();
      w.field("number", s.number).field("label", s.label).field("frames", s.frames);
      const auto coded = [&](const char* name, const CodedConcept& c) {
        w.key(name).beginObject();
        w.field("value", c.value).field("scheme", c.scheme).field("meaning", c.meaning);
        w.endObject();
      };
      coded("category", s.property.category);
      coded("type", s.property.type);
      w.field("algorithm_type", s.algorithmType).field("algorithm_name", s.algorithmName);
      w.endObject();
    }
    w.endArray();
    w.endObject();
    std::fputs((w.str() + "\n").c_str(), stdout);
    return kExitOk;
  }
  std::printf("%s\n  format        DICOM-SEG (%s, %d x %d, %lld frames)\n", path.c_str(),
              i.segmentationType.c_str(), i.columns, i.rows, static_cast<long long>(i.frames));
  std::printf("  patient       %s (%s)\n", orNone(i.patientName).c_str(),
              orNone(i.patientId).c_str());
  std::printf("  study         %s\n", orNone(i.studyUid).c_str());
  std::printf("  series        %s \"%s\"\n", i.seriesUid.c_str(), i.seriesDescription.c_str());
  for (const std::string& r : i.referencedSeriesUids)
    std::printf("  references    series %s\n", r.c_str());
  std::printf("  segments      %zu\n", i.segments.size());
  for (const DicomSegSegment& s : i.segments)
    std::printf("    %3d  %-16s %s (%s %s), %s; %lld frames; %s %s\n", s.number, s.label.c_str(),
                s.property.type.meaning.c_str(), s.property.type.scheme.c_str(),
                s.property.type.value.c_str(), s.property.category.meaning.c_str(),
                static_cast<long long>(s.frames), s.algorithmType.c_str(), s.algorithmName.c_str());
  return kExitOk;
}

// An RT Structure Set: its ROIs and how many contours each has.
int describeRtStructFile(const std::string& path, bool json) {
  auto rois = describeRtStruct(path);
  if (!rois.ok()) return fail(rois.error());
  if (json) {
    JsonWriter w;
    w.beginObject();
    w.field("path", path).field("format", "RTSTRUCT");
    w.key("rois").beginArray();
    for (const RtStructRoi& r : *rois) {
      w.beginObject();
      w.field("number", r.number).field("name", r.name);
      w.field("generation_algorithm", r.generationAlgorithm);
      w.field("contours", r.contours).field("points", r.points);
      w.endObject();
    }
    w.endArray();
    w.endObject();
    std::fputs((w.str() + "\n").c_str(), stdout);
    return kExitOk;
  }
  std::printf("%s\n  format        RT Structure Set, %zu ROIs\n", path.c_str(), rois->size());
  for (const RtStructRoi& r : *rois)
    std::printf("    %3d  %-16s %lld contours, %lld points (%s)\n", r.number, r.name.c_str(),
                static_cast<long long>(r.contours), static_cast<long long>(r.points),
                r.generationAlgorithm.c_str());
  return kExitOk;
}

// A DICOM SR measurement report Tessera wrote: its measurement groups.
int describeSr(const std::string& path, bool json) {
  auto groups = readDicomSrMeasurements(path);
  if (!groups.ok()) return fail(groups.error());
  if (json) {
    JsonWriter w;
    w.beginObject();
    w.field("path", path).field("format", "DICOM SR");
    w.key("measurement_groups").beginArray();
    for (const DicomSrMeasurement& m : *groups) {
      w.beginObject();
      w.field("tracking_id", m.trackingId).field("finding", m.finding);
      w.field("referenced_seg", m.referencedSegUid)
          .field("referenced_segment", m.referencedSegment);
      w.field("volume_ml", m.volumeMl).field("hu_mean", m.meanHu).field("hu_sd", m.sdHu);
      w.field("touches_fov_edge", m.touchesFovEdge);
      w.endObject();
    }
    w.endArray();
    w.endObject();
    std::fputs((w.str() + "\n").c_str(), stdout);
    return kExitOk;
  }
  std::printf("%s\n  format        DICOM SR measurement report, %zu groups\n", path.c_str(),
              groups->size());
  for (const DicomSrMeasurement& m : *groups)
    std::printf("    %-16s %-14s segment %d: %.2f mL, HU %.1f +- %.1f%s\n", m.trackingId.c_str(),
                m.finding.c_str(), m.referencedSegment, m.volumeMl, m.meanHu, m.sdHu,
                m.touchesFovEdge ? ", touches the edge of the field of view" : "");
  return kExitOk;
}

}  // namespace

int runInfo(const Args& args) {
  ArgParser parser("info",
                   "Describes a CT image or a DICOM directory: format, stored voxel type, "
                   "geometry (size, spacing, origin, direction, orientation), physical extent "
                   "and the HU range; for DICOM, every series found and which one is read; "
                   "for a DICOM-SEG, its segments and the series it references; for a "
                   "measurement report (DICOM SR), its measurements; for an RT Structure Set, its "
                   "ROIs.");
  parser.positional("PATH",
                    "image file (.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd, DICOM) or a directory "
                    "of DICOM files");
  parser.flag("--json", "print JSON with the same content instead of text");
  parser.option("--series", "UID",
                "DICOM directories: describe this series instead of the largest CT series");
  parser.epilog(
      "Origins are LPS millimetres (ITK convention); the direction matrix's columns are the "
      "voxel axes.\nExit codes: 0 success, 1 the image could not be read, 2 usage error.");
  int exitCode = kExitOk;
  if (!parseOrExit(parser, args, &exitCode)) return exitCode;
  const std::string path = parser.get("PATH");
  if (isDicomSegFile(path)) return describeSeg(path, parser.has("json"));
  if (isDicomSrFile(path)) return describeSr(path, parser.has("json"));
  if (isRtStructFile(path)) return describeRtStructFile(path, parser.has("json"));
  const Info info = collect(parser.get("PATH"), parser.get("series"));
  const bool partial = info.header.has_value() || info.listing.has_value();
  if (parser.has("json")) {
    if (partial) std::fputs(toJson(info).c_str(), stdout);
  } else if (partial) {
    printText(info);
  }
  std::fflush(stdout);
  if (info.error) return fail(*info.error);
  return kExitOk;
}

}  // namespace tessera::cli
