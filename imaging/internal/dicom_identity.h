// The patient and study a derived DICOM object shares with its source
// (private to imaging/, DCMTK types).
#pragma once

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcitem.h>

#include "core/status.h"

namespace tessera::imaging::dicom {

// Replaces the Patient and General Study module attributes of `target`
// (name, IDs, birth date, sex, age, study UID, date, time, ID, accession
// number, referring physician, description) and its Specific Character Set
// with those of `source`; attributes the source lacks are left as they are.
Status copyPatientAndStudy(DcmItem& source, DcmItem& target);

}  // namespace tessera::imaging::dicom
