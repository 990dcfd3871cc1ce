#include "ui/model/series_list.h"

#include <algorithm>

#include "imaging/dicom/dicom.h"

namespace tessera::ui {

namespace {

// DICOM person names separate their parts with '^' ("DOE^JANE").
std::string readableName(std::string name) {
  std::replace(name.begin(), name.end(), '^', ' ');
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return name;
}

}  // namespace

Result<SeriesListing> listStudySeries(const std::string& folder) {
  TESSERA_ASSIGN_OR_RETURN(auto listing, imaging::listDicomSeries(folder));
  SeriesListing out;
  for (const imaging::DicomSeriesInfo& info : listing.series) {
    SeriesEntry entry;
    entry.uid = info.seriesUid;
    entry.patient = readableName(info.patientName);
    if (!info.patientId.empty())
      entry.patient += (entry.patient.empty() ? "" : " ") + ("(" + info.patientId + ")");
    entry.study = info.studyDescription.empty() ? info.studyDate : info.studyDescription;
    entry.description = info.seriesDescription;
    if (!info.seriesNumber.empty())
      entry.description =
          "#" + info.seriesNumber + (entry.description.empty() ? "" : " " + entry.description);
    entry.modality = info.modality;
    entry.slices = info.sliceCount;
    entry.warnings = info.warnings;
    entry.readable = info.readable;
    out.series.push_back(std::move(entry));
  }
  out.defaultIndex = imaging::defaultSeriesIndex(listing);
  return out;
}

}  // namespace tessera::ui
