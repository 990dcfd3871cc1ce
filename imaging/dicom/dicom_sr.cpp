// TID 1500 through DCMTK's content mapping resource (dcmsr/cmr): the
// templates check the structure as it is built; DSRDocument encodes it.
#include "imaging/dicom/dicom_sr.h"

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmsr/cmr/tid1500.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <cstdio>
#include <map>
#include <memory>

#include "core/files.h"
#include "imaging/dicom/dicom.h"
#include "imaging/dicom/dicom_seg.h"
#include "imaging/internal/dicom_deid.h"
#include "imaging/internal/dicom_identity.h"
#include "imaging/internal/dicom_source.h"
#include "imaging/internal/dicom_values.h"

namespace tessera::imaging {
namespace {

using dicom::quietDcmtk;

// Codes of the report (PS3.16).
const DSRCodedEntryValue kVolume("118565006", "SCT", "Volume");
const DSRCodedEntryValue kAttenuation("112031", "DCM", "Attenuation Coefficient");
const DSRCodedEntryValue kMillilitre("ml", "UCUM", "milliliter");
const DSRCodedEntryValue kHounsfield("[hnsf'U]", "UCUM", "Hounsfield unit");
// Tessera's own concept for the edge of the field of view (no standard code
// says this); a private coding scheme, as PS3.16 8.2 provides for.
const DSRCodedEntryValue kTouchesEdge("FOV_EDGE", "99TESSERA",
                                      "Touches the edge of the field of view");
const DSRCodedEntryValue kYes("373066001", "SCT", "Yes");
const DSRCodedEntryValue kNo("373067005", "SCT", "No");
const DSRCodedEntryValue kMeasurementGroup("125007", "DCM", "Measurement Group");

Status srError(const OFCondition& c, const std::string& what, const std::string& context) {
  return Status(StatusCode::kInternal, what + " (" + c.text() + ")", context);
}

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", value);
  return buffer;
}

}  // namespace

Status writeDicomSr(const std::vector<LabelStatistics>& statistics, const std::string& path,
                    const DicomSrOptions& o) {
  std::lock_guard lock(dicom::derivedObjectMutex());
  quietDcmtk();
  TESSERA_RETURN_IF_ERROR(checkOutputPath(path));
  TESSERA_ASSIGN_OR_RETURN(DicomSegInfo seg, describeDicomSeg(o.segPath));
  if (o.sourcePath.empty())
    return Status(StatusCode::kInvalidArgument,
                  "a DICOM SR references the DICOM series it was segmented from; the input is "
                  "not a DICOM series");
  TESSERA_ASSIGN_OR_RETURN(const std::vector<std::string> files,
                           dicom::seriesFiles(o.sourcePath, o.seriesUid));
  // The source headers, read once: identity, image library and evidence.
  std::vector<std::unique_ptr<DcmFileFormat>> headers;
  for (const std::string& file : files) {
    auto header = std::make_unique<DcmFileFormat>();
    if (OFCondition c = dicom::loadHeader(*header, file); c.bad())
      return Status(StatusCode::kCorruptData, std::string("cannot read the source: ") + c.text(),
                    file);
    headers.push_back(std::move(header));
  }
  DcmDataset& source = *headers.front()->getDataset();
  OFString studyUid, seriesUid;
  source.findAndGetOFString(DCM_StudyInstanceUID, studyUid);
  source.findAndGetOFString(DCM_SeriesInstanceUID, seriesUid);
  // A de-identified SEG carries the pseudonyms of the source's UIDs.
  const std::string expectedStudy = o.deidentify.enabled
                                        ? pseudonymUid(studyUid.c_str(), o.deidentify.key)
                                        : std::string(studyUid.c_str());
  if (seg.studyUid != expectedStudy)
    return Status(StatusCode::kInvalidArgument,
                  "the DICOM-SEG belongs to another study than the source series", o.segPath);

  TID1500_MeasurementReport report(CMR_CID7021::ImagingMeasurementReport);
  report.setLanguage(CID5000_Languages::English);
  report.getObservationContext().addDeviceObserver(
      dicom::newUid().c_str(), "Tessera", "Tessera", o.algorithmName.c_str(), "", "",
      TID1001_ObservationContext::DeviceParticipatingRolesList(), "", OFFalse);
  report.addProcedureReported(CMR_CID100::CTUnspecifiedBodyRegion);
  TID1600_ImageLibrary& library = report.getImageLibrary();
  library.addImageGroup();
  for (const auto& header : headers)
    library.addImageEntry(*header->getDataset(), TID1600_ImageLibrary::withoutDescriptors);

  std::map<std::string, const DicomSegSegment*> segments;
  for (const DicomSegSegment& s : seg.segments) segments[s.label] = &s;
  bool any = false;
  for (const LabelStatistics& s : statistics) {
    if (s.value == 0) continue;
    const auto it = segments.find(s.name);
    if (it == segments.end())
      return Status(StatusCode::kInvalidArgument,
                    "the label " + s.name + " is not a segment of the DICOM-SEG", o.segPath);
    if (!s.hasHu)
      return Status(StatusCode::kInvalidArgument, "the measurements need the CT's HU statistics",
                    s.name);
    const DicomSegSegment& segment = *it->second;
    if (OFCondition c = report.addVolumetricROIMeasurements(!any); c.bad())
      return srError(c, "cannot add a measurement group", s.name);
    any = true;
    CMR_TID1411_in_TID1500& group = report.getVolumetricROIMeasurements();
    group.setTrackingIdentifier(s.name.c_str());
    group.setTrackingUniqueIdentifier(dicom::newUid().c_str());
    const CodedConcept& type = segment.property.type;
    group.setFinding(
        DSRCodedEntryValue(type.value.c_str(), type.scheme.c_str(), type.meaning.c_str()), OFFalse);
    DSRImageReferenceValue reference(UID_SegmentationStorage, seg.sopInstanceUid.c_str());
    reference.getSegmentList().addItem(static_cast<Uint16>(segment.number));
    if (OFCondition c = group.setReferencedSegment(reference); c.bad())
      return srError(c, "cannot reference the segment", s.name);
    group.setSourceSeriesForSegmentation(seriesUid);
    const auto add =
        [&](const DSRCodedEntryValue& quantity, double value, const DSRCodedEntryValue& units,
            const CID7464_GeneralRegionOfInterestMeasurementModifiers* derivation) -> Status {
      const CMR_TID1411_in_TID1500::MeasurementValue measured(number(value).c_str(), units);
      if (OFCondition c = group.addMeasurement(quantity, measured, OFFalse, OFFalse); c.bad())
        return srError(c, "cannot add a measurement", s.name);
      if (derivation)
        if (OFCondition c = group.getMeasurement().setDerivation(*derivation, OFFalse); c.bad())
          return srError(c, "cannot add a derivation", s.name);
      return Status();
    };
    const CID7464_GeneralRegionOfInterestMeasurementModifiers mean(CMR_CID7464::Mean);
    const CID7464_GeneralRegionOfInterestMeasurementModifiers sd(CMR_CID7464::StandardDeviation);
    TESSERA_RETURN_IF_ERROR(add(kVolume, s.volumeMl, kMillilitre, nullptr));
    TESSERA_RETURN_IF_ERROR(add(kAttenuation, s.huMean, kHounsfield, &mean));
    TESSERA_RETURN_IF_ERROR(add(kAttenuation, s.huStd, kHounsfield, &sd));
    group.addQualitativeEvaluation(kTouchesEdge, s.touchesFovEdge ? kYes : kNo, OFFalse);
  }
  if (!any)
    return Status(StatusCode::kInvalidArgument, "no label to report on; the label map is empty",
                  path);

  DSRDocument document;
  if (OFCondition c = document.setTreeFromRootTemplate(report, OFTrue); c.bad())
    return srError(c, "cannot build the measurement report", path);
  document.createNewSeriesInStudy(studyUid);
  document.setSeriesDescription(o.seriesDescription.c_str());
  document.setSeriesNumber(o.seriesNumber.c_str());
  document.setManufacturer("Tessera");
  document.setManufacturerModelName(o.algorithmName.c_str());
  document.completeDocument();
  DSRSOPInstanceReferenceList& evidence = document.getCurrentRequestedProcedureEvidence();
  evidence.addItem(studyUid, seg.seriesUid.c_str(), UID_SegmentationStorage,
                   seg.sopInstanceUid.c_str());
  for (const auto& header : headers) evidence.addItem(*header->getDataset());
  DcmFileFormat format;
  DcmDataset& out = *format.getDataset();
  if (OFCondition c = document.write(out); c.bad())
    return srError(c, "cannot encode the measurement report", path);
  TESSERA_RETURN_IF_ERROR(dicom::copyPatientAndStudy(source, out));
  if (o.deidentify.enabled)
    TESSERA_RETURN_IF_ERROR(dicom::deidentifyDataset(
        out, o.deidentify, {seg.studyUid, seg.seriesUid, seg.sopInstanceUid}));

  return dicom::saveAtomically(format, path, "the report");
}

bool isDicomSrFile(const std::string& path) {
  const std::string sopClass = dicom::sopClassOf(path);
  return sopClass == UID_EnhancedSRStorage || sopClass == UID_ComprehensiveSRStorage ||
         sopClass == UID_BasicTextSRStorage;
}

namespace {

// The coded concept of an item's sequence (ConceptNameCodeSequence, ...).
std::string codeValue(DcmItem& item, const DcmTagKey& sequence, std::string* meaning = nullptr) {
  DcmItem* code = nullptr;
  if (item.findAndGetSequenceItem(sequence, code, 0).bad() || !code) return {};
  OFString value, scheme, text;
  code->findAndGetOFString(DCM_CodeValue, value);
  code->findAndGetOFString(DCM_CodingSchemeDesignator, scheme);
  code->findAndGetOFString(DCM_CodeMeaning, text);
  if (meaning) *meaning = text.c_str();
  return std::string(scheme.c_str()) + ":" + value.c_str();
}

void collectGroups(DcmItem& item, std::vector<DcmItem*>* groups) {
  for (unsigned long i = 0;; ++i) {
    DcmItem* child = nullptr;
    if (item.findAndGetSequenceItem(DCM_ContentSequence, child, static_cast<int>(i)).bad() ||
        !child)
      return;
    OFString type;
    child->findAndGetOFString(DCM_ValueType, type);
    if (type == "CONTAINER" && codeValue(*child, DCM_ConceptNameCodeSequence) == "DCM:125007")
      groups->push_back(child);
    else
      collectGroups(*child, groups);
  }
}

}  // namespace

Result<std::vector<DicomSrMeasurement>> readDicomSrMeasurements(const std::string& path) {
  quietDcmtk();
  DcmFileFormat format;
  if (OFCondition c = format.loadFile(path.c_str()); c.bad())
    return Status(StatusCode::kCorruptData, std::string("not a readable DICOM file: ") + c.text(),
                  path);
  DcmDataset& ds = *format.getDataset();
  OFString modality;
  ds.findAndGetOFString(DCM_Modality, modality);
  if (modality != "SR") return Status(StatusCode::kUnsupported, "not a DICOM SR", path);
  std::vector<DcmItem*> groups;
  collectGroups(ds, &groups);
  std::vector<DicomSrMeasurement> out;
  for (DcmItem* group : groups) {
    DicomSrMeasurement m;
    for (unsigned long i = 0;; ++i) {
      DcmItem* item = nullptr;
      if (group->findAndGetSequenceItem(DCM_ContentSequence, item, static_cast<int>(i)).bad() ||
          !item)
        break;
      OFString type;
      item->findAndGetOFString(DCM_ValueType, type);
      const std::string name = codeValue(*item, DCM_ConceptNameCodeSequence);
      if (type == "TEXT" && name == "DCM:112039") {
        OFString text;
        item->findAndGetOFString(DCM_TextValue, text);
        m.trackingId = text.c_str();
      } else if (type == "CODE" && name == "DCM:121071") {
        codeValue(*item, DCM_ConceptCodeSequence, &m.finding);
      } else if (type == "CODE" && name == "99TESSERA:FOV_EDGE") {
        m.touchesFovEdge = codeValue(*item, DCM_ConceptCodeSequence) == "SCT:373066001";
      } else if (type == "IMAGE") {
        DcmItem* reference = nullptr;
        if (item->findAndGetSequenceItem(DCM_ReferencedSOPSequence, reference, 0).good() &&
            reference) {
          OFString uid;
          reference->findAndGetOFString(DCM_ReferencedSOPInstanceUID, uid);
          m.referencedSegUid = uid.c_str();
          Uint16 number = 0;
          reference->findAndGetUint16(DCM_ReferencedSegmentNumber, number);
          m.referencedSegment = number;
        }
      } else if (type == "NUM") {
        DcmItem* measured = nullptr;
        if (item->findAndGetSequenceItem(DCM_MeasuredValueSequence, measured, 0).bad() || !measured)
          continue;
        Float64 value = 0;
        measured->findAndGetFloat64(DCM_NumericValue, value);
        // The derivation is a CODE child of the NUM item (121401, DCM).
        std::string derivation;
        DcmItem* child = nullptr;
        for (int c = 0; item->findAndGetSequenceItem(DCM_ContentSequence, child, c).good() && child;
             ++c)
          if (codeValue(*child, DCM_ConceptNameCodeSequence) == "DCM:121401")
            derivation = codeValue(*child, DCM_ConceptCodeSequence);
        if (name == "SCT:118565006")
          m.volumeMl = value;
        else if (name == "DCM:112031" && derivation == "SCT:386136009")
          m.sdHu = value;
        else if (name == "DCM:112031")
          m.meanHu = value;
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace tessera::imaging
