// De-identification of one DICOM data set (private to imaging/; the profile
// and its pseudonyms are described in imaging/dicom/deidentify.h).
#pragma once

#include <dcmtk/config/osconfig.h>
// osconfig.h first
#include <dcmtk/dcmdata/dcitem.h>

#include <set>
#include <string>

#include "core/status.h"
#include "imaging/dicom/deidentify.h"

namespace tessera::imaging::dicom {

// Applies the profile to `dataset` in place, recursing into sequences. UIDs
// in `pseudonyms` are already pseudonyms (references to an object
// de-identified before, such as the SEG an SR reports on) and are kept.
Status deidentifyDataset(DcmItem& dataset, const DeidentifyOptions& options,
                         const std::set<std::string>& pseudonyms = {});

}  // namespace tessera::imaging::dicom
