// Chooses one DICOM series of a folder: patient, study, series description,
// modality, number of slices and warnings (missing slices, uneven spacing...)
// per series. The largest CT series is preselected.
#pragma once

#include <QDialog>
#include <QTableWidget>

#include <string>
#include <vector>

#include "ui/model/series_list.h"

namespace tessera::ui {

class SeriesBrowserDialog : public QDialog {
  Q_OBJECT

 public:
  SeriesBrowserDialog(const std::vector<SeriesEntry>& series, const QString& folder,
                      QWidget* parent = nullptr);
  // UID of the chosen series (the selected row).
  std::string selectedUid() const;
  QTableWidget* table() const { return table_; }

 private:
  std::vector<SeriesEntry> series_;
  QTableWidget* table_;
};

// Index of the series to preselect: the CT series with most slices, or the
// largest series when none is CT.
int defaultSeriesIndex(const std::vector<SeriesEntry>& series);

}  // namespace tessera::ui
