// The attribute actions follow PS3.15 Table E.1-1 (Basic Profile column) for
// the attributes CT series and Tessera's derived objects carry.
#include "imaging/internal/dicom_deid.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <xxhash.h>

#include <cstdio>
#include <set>
#include <vector>

namespace tessera::imaging::dicom {
namespace {

// X: removed.
const DcmTagKey kRemove[] = {
    DCM_PatientBirthTime,
    DCM_OtherPatientIDsSequence,
    DCM_OtherPatientNames,
    DCM_PatientBirthName,
    DCM_PatientAddress,
    DCM_PatientMotherBirthName,
    DCM_PatientTelephoneNumbers,
    DCM_EthnicGroup,
    DCM_Occupation,
    DCM_AdditionalPatientHistory,
    DCM_PatientComments,
    DCM_RETIRED_MedicalRecordLocator,
    DCM_MilitaryRank,
    DCM_BranchOfService,
    DCM_CountryOfResidence,
    DCM_RegionOfResidence,
    DCM_ResponsiblePerson,
    DCM_ResponsibleOrganization,
    DCM_PatientAge,
    DCM_PatientSize,
    DCM_PatientWeight,
    DCM_IssuerOfPatientID,
    DCM_ReferencedPatientSequence,
    DCM_InstitutionName,
    DCM_InstitutionAddress,
    DCM_InstitutionalDepartmentName,
    DCM_InstitutionCodeSequence,
    DCM_ReferringPhysicianAddress,
    DCM_ReferringPhysicianTelephoneNumbers,
    DCM_PhysiciansOfRecord,
    DCM_PerformingPhysicianName,
    DCM_NameOfPhysiciansReadingStudy,
    DCM_RequestingPhysician,
    DCM_StationName,
    DCM_RequestAttributesSequence,
    DCM_StudyDescription,
    DCM_SeriesDescription,
    DCM_ImageComments,
    DCM_ProtocolName,
    DCM_DerivationDescription,
    DCM_PerformedProcedureStepDescription,
    DCM_PerformedProcedureStepID,
    DCM_PerformedProcedureStepStartDate,
    DCM_PerformedProcedureStepStartTime,
    DCM_AdmittingDiagnosesDescription,
    DCM_ReferencedStudySequence,
    DCM_RETIRED_OtherPatientIDs,
    DCM_ScheduledProcedureStepDescription,
    DCM_RequestedProcedureDescription,
    DCM_RETIRED_AcquisitionComments,
    DCM_RETIRED_ReasonForStudy,
};

// Dates and times removed unless they are kept (the full dates option).
const DcmTagKey kRemoveDates[] = {
    DCM_SeriesDate,           DCM_SeriesTime,          DCM_AcquisitionDate,
    DCM_AcquisitionTime,      DCM_AcquisitionDateTime, DCM_InstanceCreationDate,
    DCM_InstanceCreationTime,
};
// Z: emptied (type 2 attributes stay present, as the IOD requires).
const DcmTagKey kEmpty[] = {DCM_AccessionNumber,        DCM_StudyID,
                            DCM_ReferringPhysicianName, DCM_PatientSex,
                            DCM_ContentCreatorName,     DCM_OperatorsName};
const DcmTagKey kEmptyDates[] = {DCM_StudyDate, DCM_StudyTime, DCM_PatientBirthDate,
                                 DCM_StructureSetDate, DCM_StructureSetTime};

std::string hex64(std::uint64_t v, int digits) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buffer).substr(16 - static_cast<std::size_t>(digits));
}

bool wellKnownUid(const std::string& uid) {
  return uid.rfind("1.2.840.10008.", 0) == 0;
}

// Replaces every instance UID in `item` and its sequences by its pseudonym,
// and removes private attributes.
void mapUidsAndPrivate(DcmItem& item, const std::string& key,
                       const std::set<std::string>& pseudonyms) {
  std::vector<DcmTagKey> privateTags;
  for (unsigned long i = 0; i < item.card(); ++i) {
    DcmElement* e = item.getElement(i);
    if (!e) continue;
    if (e->getTag().isPrivate()) {
      privateTags.push_back(e->getTag());
      continue;
    }
    if (e->ident() == EVR_SQ) {
      auto* sequence = static_cast<DcmSequenceOfItems*>(e);
      for (unsigned long n = 0; n < sequence->card(); ++n)
        mapUidsAndPrivate(*sequence->getItem(n), key, pseudonyms);
    } else if (e->ident() == EVR_UI) {
      OFString value;
      if (e->getOFStringArray(value).good() && !value.empty() && !wellKnownUid(value.c_str()) &&
          !pseudonyms.count(value.c_str()))
        e->putOFStringArray(pseudonymUid(value.c_str(), key).c_str());
    }
  }
  for (const DcmTagKey& tag : privateTags) delete item.remove(tag);
}

}  // namespace

Status deidentifyDataset(DcmItem& ds, const DeidentifyOptions& o,
                         const std::set<std::string>& pseudonyms) {
  OFString id, name;
  ds.findAndGetOFString(DCM_PatientID, id);
  ds.findAndGetOFStringArray(DCM_PatientName, name);
  const std::string basis = std::string(id.empty() ? name.c_str() : id.c_str());
  const std::string salted = o.key + '\x1f' + basis;
  const std::string pseudonym = "ANON" + hex64(XXH3_64bits(salted.data(), salted.size()), 12);

  for (const DcmTagKey& tag : kRemove) delete ds.remove(tag);
  for (const DcmTagKey& tag : kEmpty)
    if (ds.tagExists(tag)) ds.putAndInsertString(tag, "");
  // Type 2 in the SR document series: an empty sequence.
  if (ds.tagExists(DCM_ReferencedPerformedProcedureStepSequence)) {
    delete ds.remove(DCM_ReferencedPerformedProcedureStepSequence);
    ds.insertEmptyElement(DCM_ReferencedPerformedProcedureStepSequence);
  }
  // Type 1 in the enhanced equipment module of a SEG: a dummy value (D).
  if (ds.tagExists(DCM_DeviceSerialNumber))
    ds.putAndInsertString(DCM_DeviceSerialNumber, "DEIDENTIFIED");
  if (!o.keepDates) {
    for (const DcmTagKey& tag : kRemoveDates) delete ds.remove(tag);
    for (const DcmTagKey& tag : kEmptyDates)
      if (ds.tagExists(tag)) ds.putAndInsertString(tag, "");
    // Type 1 in the image and report modules: a dummy value (PS3.15 "D").
    if (ds.tagExists(DCM_ContentDate)) ds.putAndInsertString(DCM_ContentDate, "19000101");
    if (ds.tagExists(DCM_ContentTime)) ds.putAndInsertString(DCM_ContentTime, "000000");
  }
  ds.putAndInsertString(DCM_PatientID, pseudonym.c_str());
  ds.putAndInsertString(DCM_PatientName, pseudonym.c_str());
  mapUidsAndPrivate(ds, o.key, pseudonyms);

  ds.putAndInsertString(DCM_PatientIdentityRemoved, "YES");
  std::string method = "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile";
  if (o.keepDates) method += ", Retain Longitudinal Temporal Information Full Dates Option";
  ds.putAndInsertString(DCM_DeidentificationMethod, method.substr(0, 64).c_str());
  delete ds.remove(DCM_DeidentificationMethodCodeSequence);
  const auto addCode = [&](const char* value, const char* meaning) -> Status {
    DcmItem* code = nullptr;
    if (ds.findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, code, -2).bad() ||
        !code)
      return Status(StatusCode::kInternal, "cannot record the de-identification method");
    code->putAndInsertString(DCM_CodeValue, value);
    code->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
    code->putAndInsertString(DCM_CodeMeaning, meaning);
    return Status();
  };
  TESSERA_RETURN_IF_ERROR(addCode("113100", "Basic Application Confidentiality Profile"));
  if (o.keepDates)
    TESSERA_RETURN_IF_ERROR(
        addCode("113106", "Retain Longitudinal Temporal Information Full Dates Option"));
  return Status();
}

}  // namespace tessera::imaging::dicom
