// RTSTRUCT through DCMTK's dcmrt (DRTStructureSetIOD); outlines with
// OpenCV's border following (cv::findContours, two-level hierarchy).
#include "imaging/dicom/dicom_rtstruct.h"

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmrt/drtstrct.h>

#include <array>
#include <opencv2/imgproc.hpp>

#include "core/files.h"
#include "imaging/internal/dicom_deid.h"
#include "imaging/internal/dicom_identity.h"
#include "imaging/internal/dicom_source.h"
#include "imaging/internal/dicom_values.h"

namespace tessera::imaging {
namespace {

using dicom::decimalString;

Status rtError(const OFCondition& c, const std::string& what, const std::string& context) {
  return Status(StatusCode::kInternal, what + " (" + c.text() + ")", context);
}

// The DICOM "Detached Study Management" class that RT Referenced Study
// items name (PS3.3 C.8.8.5; retired as a service, still required here).
constexpr const char* kStudyComponentClass = "1.2.840.10008.3.1.2.3.1";

}  // namespace

std::vector<PlanarContour> labelContours(const Image<std::uint8_t>& labels, std::uint8_t value) {
  std::vector<PlanarContour> out;
  const Geometry& g = labels.geometry();
  const int nx = static_cast<int>(g.size[0]), ny = static_cast<int>(g.size[1]);
  cv::Mat mask(ny, nx, CV_8U), twice;
  for (std::int64_t k = 0; k < g.size[2]; ++k) {
    const std::uint8_t* slice = labels.slice(k);
    bool any = false;
    for (int v = 0; v < nx * ny; ++v) {
      mask.data[v] = slice[v] == value ? 255 : 0;
      any = any || slice[v] == value;
    }
    if (!any) continue;
    cv::resize(mask, twice, cv::Size(2 * nx, 2 * ny), 0, 0, cv::INTER_NEAREST);
    std::vector<std::vector<cv::Point>> contours;
    std::vector<cv::Vec4i> hierarchy;
    cv::findContours(twice, contours, hierarchy, cv::RETR_CCOMP, cv::CHAIN_APPROX_SIMPLE);
    for (std::size_t c = 0; c < contours.size(); ++c) {
      PlanarContour contour;
      contour.slice = k;
      contour.hole = hierarchy[c][3] >= 0;
      // Pixel u of the doubled grid has its centre at voxel index (u - 0.5) / 2.
      for (const cv::Point& p : contours[c])
        contour.pointsMm.push_back(
            g.worldFromVoxel({(p.x - 0.5) / 2.0, (p.y - 0.5) / 2.0, static_cast<double>(k)}));
      out.push_back(std::move(contour));
    }
  }
  return out;
}

Status writeRtStruct(const LabelMap& labels, const std::string& path, const RtStructOptions& o) {
  std::lock_guard lock(dicom::derivedObjectMutex());
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  const Geometry& g = labels.labels.geometry();
  TESSERA_RETURN_IF_ERROR(validateGeometry(g));
  TESSERA_ASSIGN_OR_RETURN(dicom::SourceSeries source,
                           dicom::readSourceSeries(o.sourcePath, o.seriesUid, "an RTSTRUCT"));
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::size_t> match,
                           dicom::matchSlices(g, source, path, "an RTSTRUCT"));
  std::array<bool, 256> present{};
  for (std::int64_t v = 0; v < labels.labels.voxelCount(); ++v)
    present[labels.labels.data()[v]] = true;
  present[0] = false;
  if (std::find(present.begin(), present.end(), true) == present.end())
    return Status(StatusCode::kInvalidArgument,
                  "the label map holds no label; an RTSTRUCT needs at least one ROI", path);

  DRTStructureSetIOD rt;
  rt.setStudyInstanceUID(source.studyUid.c_str());
  rt.setSeriesInstanceUID(dicom::newUid().c_str());
  rt.setSOPInstanceUID(dicom::newUid().c_str());
  rt.setSOPClassUID(UID_RTStructureSetStorage);
  rt.setModality("RTSTRUCT");
  rt.setSeriesNumber(o.seriesNumber.c_str());
  rt.setSeriesDescription(o.seriesDescription.c_str());
  rt.setInstanceNumber("1");
  rt.setManufacturer("Tessera");
  rt.setManufacturerModelName(o.algorithmName.c_str());
  rt.setSoftwareVersions(TESSERA_VERSION);
  rt.setStructureSetLabel(o.structureSetLabel.c_str());
  rt.setStructureSetDate(dicom::localNow("%Y%m%d").c_str());
  rt.setStructureSetTime(dicom::localNow("%H%M%S").c_str());
  rt.setFrameOfReferenceUID(source.frameOfReferenceUid.c_str());

  // The frame of reference, study, series and every slice the contours lie on.
  DRTReferencedFrameOfReferenceSequence::Item* frame = nullptr;
  if (OFCondition c = rt.getReferencedFrameOfReferenceSequence().addItem(frame); c.bad())
    return rtError(c, "cannot write the frame of reference", path);
  frame->setFrameOfReferenceUID(source.frameOfReferenceUid.c_str());
  DRTRTReferencedStudySequence::Item* study = nullptr;
  frame->getRTReferencedStudySequence().addItem(study);
  study->setReferencedSOPClassUID(kStudyComponentClass);
  study->setReferencedSOPInstanceUID(source.studyUid.c_str());
  DRTRTReferencedSeriesSequence::Item* series = nullptr;
  study->getRTReferencedSeriesSequence().addItem(series);
  series->setSeriesInstanceUID(source.seriesUid.c_str());
  for (const dicom::SourceSlice& s : source.slices) {
    DRTContourImageSequence::Item* image = nullptr;
    series->getContourImageSequence().addItem(image);
    image->setReferencedSOPClassUID(s.sopClassUid.c_str());
    image->setReferencedSOPInstanceUID(s.sopInstanceUid.c_str());
  }

  int number = 0;
  for (int value = 1; value < 256; ++value) {
    if (!present[value]) continue;
    ++number;
    Label label{static_cast<std::uint8_t>(value), "label " + std::to_string(value), {255, 0, 0}};
    if (const Label* known = labels.table.find(static_cast<std::uint8_t>(value))) label = *known;
    const std::string roi = std::to_string(number);
    DRTStructureSetROISequence::Item* item = nullptr;
    rt.getStructureSetROISequence().addItem(item);
    item->setROINumber(roi.c_str());
    item->setReferencedFrameOfReferenceUID(source.frameOfReferenceUid.c_str());
    item->setROIName(label.name.substr(0, 64).c_str());
    item->setROIGenerationAlgorithm("AUTOMATIC");
    item->setROIGenerationDescription(("Segmented by " + o.algorithmName).substr(0, 64).c_str());

    DRTROIContourSequence::Item* contours = nullptr;
    rt.getROIContourSequence().addItem(contours);
    contours->setReferencedROINumber(roi.c_str());
    contours->setROIDisplayColor((std::to_string(label.rgb[0]) + "\\" +
                                  std::to_string(label.rgb[1]) + "\\" +
                                  std::to_string(label.rgb[2]))
                                     .c_str());
    for (const PlanarContour& c : labelContours(labels.labels, label.value)) {
      DRTContourSequence::Item* contour = nullptr;
      contours->getContourSequence().addItem(contour);
      const dicom::SourceSlice& s = source.slices[match[static_cast<std::size_t>(c.slice)]];
      DRTContourImageSequence::Item* image = nullptr;
      contour->getContourImageSequence().addItem(image);
      image->setReferencedSOPClassUID(s.sopClassUid.c_str());
      image->setReferencedSOPInstanceUID(s.sopInstanceUid.c_str());
      contour->setContourGeometricType("CLOSED_PLANAR");
      contour->setNumberOfContourPoints(std::to_string(c.pointsMm.size()).c_str());
      std::string data;
      for (const Vec3& p : c.pointsMm)
        for (double x : p) data += (data.empty() ? "" : "\\") + decimalString(x);
      if (OFCondition e = contour->setContourData(data.c_str(), OFFalse); e.bad())
        return rtError(e, "cannot write a contour of " + label.name, path);
    }

    DRTRTROIObservationsSequence::Item* observation = nullptr;
    rt.getRTROIObservationsSequence().addItem(observation);
    observation->setObservationNumber(roi.c_str());
    observation->setReferencedROINumber(roi.c_str());
    observation->setRTROIInterpretedType("ORGAN");
    observation->setROIInterpreter("");
  }

  DcmFileFormat format;
  DcmDataset& out = *format.getDataset();
  if (OFCondition c = rt.write(out); c.bad()) return rtError(c, "cannot encode the RTSTRUCT", path);
  DcmFileFormat first;
  if (OFCondition c = dicom::loadHeader(first, source.slices.front().file); c.bad())
    return Status(StatusCode::kCorruptData, std::string("cannot read the source: ") + c.text(),
                  source.slices.front().file);
  TESSERA_RETURN_IF_ERROR(dicom::copyPatientAndStudy(*first.getDataset(), out));
  if (o.deidentify.enabled) TESSERA_RETURN_IF_ERROR(dicom::deidentifyDataset(out, o.deidentify));
  return dicom::saveAtomically(format, path, "the RTSTRUCT");
}

bool isRtStructFile(const std::string& path) {
  return dicom::sopClassOf(path) == UID_RTStructureSetStorage;
}

Result<std::vector<RtStructRoi>> describeRtStruct(const std::string& path) {
  dicom::quietDcmtk();
  DcmFileFormat format;
  if (OFCondition c = format.loadFile(path.c_str()); c.bad())
    return Status(StatusCode::kCorruptData, std::string("not a readable DICOM file: ") + c.text(),
                  path);
  DcmDataset& ds = *format.getDataset();
  if (dicom::text(ds, DCM_SOPClassUID) != UID_RTStructureSetStorage)
    return Status(StatusCode::kUnsupported, "not an RT Structure Set", path);
  std::vector<RtStructRoi> rois;
  DcmItem* item = nullptr;
  for (int i = 0; ds.findAndGetSequenceItem(DCM_StructureSetROISequence, item, i).good(); ++i) {
    RtStructRoi roi;
    roi.number = std::atoi(dicom::text(*item, DCM_ROINumber).c_str());
    roi.name = dicom::text(*item, DCM_ROIName);
    roi.generationAlgorithm = dicom::text(*item, DCM_ROIGenerationAlgorithm);
    rois.push_back(roi);
  }
  for (int i = 0; ds.findAndGetSequenceItem(DCM_ROIContourSequence, item, i).good(); ++i) {
    const int referenced = std::atoi(dicom::text(*item, DCM_ReferencedROINumber).c_str());
    for (RtStructRoi& roi : rois) {
      if (roi.number != referenced) continue;
      DcmItem* contour = nullptr;
      for (int c = 0; item->findAndGetSequenceItem(DCM_ContourSequence, contour, c).good(); ++c) {
        ++roi.contours;
        roi.points += std::atoi(dicom::text(*contour, DCM_NumberOfContourPoints).c_str());
      }
    }
  }
  return rois;
}

}  // namespace tessera::imaging
