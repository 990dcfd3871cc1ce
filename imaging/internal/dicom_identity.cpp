#include "imaging/internal/dicom_identity.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>

namespace tessera::imaging::dicom {

Status copyPatientAndStudy(DcmItem& source, DcmItem& target) {
  static const DcmTagKey kTags[] = {
      DCM_SpecificCharacterSet,
      DCM_PatientName,
      DCM_PatientID,
      DCM_IssuerOfPatientID,
      DCM_PatientBirthDate,
      DCM_PatientSex,
      DCM_PatientAge,
      DCM_StudyInstanceUID,
      DCM_StudyDate,
      DCM_StudyTime,
      DCM_StudyID,
      DCM_AccessionNumber,
      DCM_ReferringPhysicianName,
      DCM_StudyDescription,
  };
  for (const DcmTagKey& tag : kTags) {
    DcmElement* element = nullptr;
    if (source.findAndGetElement(tag, element).bad() || !element) continue;
    auto* copy = static_cast<DcmElement*>(element->clone());
    if (target.insert(copy, OFTrue /* replace */).bad()) {
      delete copy;
      return Status(StatusCode::kInternal, "cannot copy the patient and study attributes");
    }
  }
  return Status();
}

}  // namespace tessera::imaging::dicom
