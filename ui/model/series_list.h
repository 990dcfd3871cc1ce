// What the series browser shows for each DICOM series of a folder, mapped
// from the DICOM reader's listing so that the dialog does not depend on how
// the reader reports series. Toolkit-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace tessera::ui {

struct SeriesEntry {
  std::string uid;  // SeriesInstanceUID: what is passed back to open the series
  std::string patient;
  std::string study;
  std::string description;
  std::string modality;
  std::int64_t slices = 0;
  std::vector<std::string> warnings;  // e.g. "2 slices missing between 40.0 and 46.0 mm"
  bool readable = true;               // false when a warning says it cannot be read
};

struct SeriesListing {
  std::vector<SeriesEntry> series;  // largest first
  int defaultIndex = -1;            // what opening the folder reads without a choice
};

// The DICOM series of a folder (searched recursively). Fails with the
// reader's message when the folder does not exist, is empty or holds no
// DICOM image.
Result<SeriesListing> listStudySeries(const std::string& folder);

}  // namespace tessera::ui
