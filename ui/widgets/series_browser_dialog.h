// Chooses one DICOM series of a folder: patient, study, series description,
// modality, number of slices and warnings (missing slices, uneven spacing...)
// per series. The series the reader would pick by itself is preselected;
// series that cannot be read are greyed out and cannot be chosen.
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
  SeriesBrowserDialog(const SeriesListing& listing, const QString& folder,
                      QWidget* parent = nullptr);
  // UID of the chosen series (the selected row).
  std::string selectedUid() const;
  QTableWidget* table() const { return table_; }

 private:
  std::vector<SeriesEntry> series_;
  QTableWidget* table_;
};

}  // namespace tessera::ui
