// File › Open from PACS: names the PACS (AE title, host and port, or a
// DICOMweb URL), lists its studies for a patient, the series of the chosen
// study, and retrieves the chosen series into the workstation's cache with
// a progress bar and Cancel; accepted when a series is ready to open
// (retrievedFolder()). Every network call runs on a worker thread while the
// dialog's event loop goes on, so the window stays responsive.
#pragma once

#include <QDialog>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>

#include <functional>
#include <string>
#include <vector>

#include "ui/model/pacs_browser.h"

namespace tessera::ui {

class PacsDialog : public QDialog {
  Q_OBJECT

 public:
  // `cacheRoot`: where retrieved series are kept.
  PacsDialog(QString cacheRoot, QWidget* parent = nullptr);

  QLineEdit* peerEdit() const { return peer_; }
  QLineEdit* aetEdit() const { return aet_; }
  QLineEdit* patientEdit() const { return patient_; }
  QTableWidget* studiesTable() const { return studies_; }
  QTableWidget* seriesTable() const { return series_; }
  QLabel* messageLabel() const { return message_; }

  // The steps behind the buttons, for the tests as for the person: false
  // with the reason in messageLabel() when a step fails.
  bool search();
  bool selectStudy(int row);
  // Retrieves the selected series, waiting while the dialog stays
  // responsive; accepts the dialog when done.
  bool retrieveSelected();

  const std::string& retrievedFolder() const { return folder_; }
  const std::string& retrievedSeriesUid() const { return seriesUid_; }

 private:
  bool connectBrowser();
  void fail(const Status& status);
  // Runs `work` on a worker thread and returns its result, processing events
  // meanwhile; `poll` runs every 50 ms on the GUI thread.
  template <class T>
  T wait(const std::function<T()>& work, const std::function<void()>& poll = {});

  QString cacheRoot_;
  PacsBrowser browser_;
  std::vector<imaging::PacsMatch> studyRows_, seriesRows_;
  QLineEdit* peer_;
  QLineEdit* aet_;
  QLineEdit* patient_;
  QTableWidget* studies_;
  QTableWidget* series_;
  QLabel* message_;
  QProgressBar* progress_;
  QPushButton* open_;
  QPushButton* cancel_;
  CancelToken cancelToken_;
  bool busy_ = false;
  bool selecting_ = false;  // selectStudy's own row selection re-enters it
  std::string folder_, seriesUid_;
};

}  // namespace tessera::ui
