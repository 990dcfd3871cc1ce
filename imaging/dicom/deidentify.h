// De-identification of the DICOM objects Tessera writes, after DICOM PS3.15
// Annex E, the Basic Application Level Confidentiality Profile (documented
// in docs/HOSPITAL.md): attributes that identify the patient, the
// institution, the people involved or the time of the examination are
// removed, emptied or replaced by pseudonyms; private attributes are
// removed; Patient Identity Removed is set to YES and the method is recorded
// (De-identification Method and its code sequence).
//
// Pseudonyms are consistent: every UID (study, series, instance, frame of
// reference, and the references to them) is replaced by "2.25." and a 128-bit
// hash of the original and the key, and the patient's name and ID by a hash
// of the original ID and the key. The same source de-identified with the
// same key therefore gives the same UIDs in the CT series (`tessera convert
// --deidentify`) and in the SEG, SR and RTSTRUCT made from it, which keep
// referencing it. Without a key, anyone who holds an original UID can
// recompute its pseudonym; a site keeps a secret key for that reason.
#pragma once

#include <string>

#include "core/progress.h"
#include "core/status.h"

namespace tessera::imaging {

struct DeidentifyOptions {
  bool enabled = false;
  // PS3.15 "Retain Longitudinal Temporal Information with Full Dates
  // Option": dates and times are kept (intervals between studies matter).
  bool keepDates = false;
  std::string key;  // secret mixed into every pseudonym; may be empty
};

// Reads the key from a file (its first line, at least 16 characters).
Result<std::string> readDeidentifyKey(const std::string& path);

// The pseudonym of a UID: "2.25." and the decimal of a 128-bit hash of
// `key` and `uid`.
std::string pseudonymUid(const std::string& uid, const std::string& key);

// De-identifies every file of a DICOM series (`seriesUid`, or the series
// readVolume picks) into `directory` (new or empty), keeping the pixel data
// byte for byte; the folder appears only when every file is written.
Status deidentifyDicomSeries(const std::string& input, const std::string& seriesUid,
                             const std::string& directory, const DeidentifyOptions& options,
                             ProgressSink* progress = nullptr, const CancelToken* cancel = nullptr);

}  // namespace tessera::imaging
