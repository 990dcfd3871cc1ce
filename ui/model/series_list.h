// What the series browser shows for each DICOM series of a folder. Kept as a
// small struct of the workstation's own so the dialog does not depend on how
// the DICOM reader reports series.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::ui {

struct SeriesEntry {
  std::string uid;  // SeriesInstanceUID: what is passed back to open the series
  std::string patient;
  std::string study;
  std::string description;
  std::string modality;
  std::int64_t slices = 0;
  std::vector<std::string> warnings;  // e.g. "2 slices missing between 40.0 and 46.0 mm"
};

}  // namespace tessera::ui
