// MainWindow's operations behind the menus: opening and saving studies and
// segmentations, exports, screenshots, segmenting, recent files, unsaved
// edits, drag and drop, and their file-dialog front ends.
#include "ui/widgets/main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileDialog>
#include <QMenu>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTemporaryDir>

#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <optional>

#include "core/files.h"
#include "imaging/io/volume_io.h"
#include "ui/model/pacs_browser.h"
#include "ui/widgets/pacs_dialog.h"
#include "ui/widgets/segment_dialog.h"
#include "ui/widgets/view3d_widget.h"

namespace tessera::ui {

namespace {

constexpr const char* kRecentKey = "recentFiles";
constexpr const char* kModelKey = "segment/model";
constexpr const char* kUserModelsKey = "segment/userModels";
constexpr const char* kModeKey = "segment/mode";
constexpr const char* kSettleKey = "segment/settle";
constexpr const char* kImageFilter =
    "Images (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.dcm);;All files (*)";
constexpr const char* kLabelFilter = "Label maps (*.nii.gz *.nii *.nrrd *.mha);;All files (*)";
constexpr const char* kOpenLabelFilter =
    "Label maps and DICOM-SEG (*.nii.gz *.nii *.nrrd *.mha *.dcm);;All files (*)";

std::string toStd(const QString& text) {
  return text.toStdString();
}

// A wait cursor for work done on the UI thread (reading a study).
class WaitCursor {
 public:
  WaitCursor() { QApplication::setOverrideCursor(Qt::WaitCursor); }
  ~WaitCursor() { QApplication::restoreOverrideCursor(); }
  WaitCursor(const WaitCursor&) = delete;
  WaitCursor& operator=(const WaitCursor&) = delete;
};

}  // namespace

void MainWindow::loadRecentFiles() {
  QSettings settings;
  std::vector<std::string> recent;
  for (const QString& path : settings.value(kRecentKey).toStringList())
    recent.push_back(toStd(path));
  model_.recentFiles().setPaths(recent);
  rebuildRecentMenu();
}

void MainWindow::rememberRecent(const QString& path) {
  model_.recentFiles().add(toStd(path));
  QStringList paths;
  for (const std::string& p : model_.recentFiles().paths()) paths << QString::fromStdString(p);
  QSettings().setValue(kRecentKey, paths);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  recentMenu_->clear();
  for (const std::string& path : model_.recentFiles().paths()) {
    const QString qpath = QString::fromStdString(path);
    recentMenu_->addAction(qpath, this, [this, qpath] { openPath(qpath); });
  }
  recentMenu_->setEnabled(!model_.recentFiles().paths().empty());
}

template <class T>
Result<T> MainWindow::inBackground(const QString& what, std::function<Result<T>()> work) {
  std::optional<Result<T>> out;
  QEventLoop loop;
  QFutureWatcher<void> watcher;
  connect(&watcher, &QFutureWatcher<void>::finished, &loop, &QEventLoop::quit);
  backgroundProgress_->setFormat(what);
  backgroundProgress_->show();
  statusBar()->showMessage(what);
  watcher.setFuture(QtConcurrent::run([&out, &work] {
    // No exception may leave the worker thread.
    try {
      out.emplace(work());
    } catch (const std::bad_alloc&) {
      out.emplace(Error{StatusCode::kResourceExhausted, "not enough memory", ""});
    } catch (const std::exception& e) {
      out.emplace(Error{StatusCode::kInternal, e.what(), ""});
    }
  }));
  if (!watcher.isFinished()) loop.exec(QEventLoop::ExcludeUserInputEvents);
  watcher.waitForFinished();
  backgroundProgress_->hide();
  statusBar()->clearMessage();
  if (!out) return Error{StatusCode::kInternal, "the work on the worker thread did not finish", ""};
  return std::move(*out);
}

bool MainWindow::openPath(const QString& path) {
  if (model_.hasUnsavedEdits()) {
    whenEditsAreSafe([this, path] { openPathNow(path); });
    return false;
  }
  return openPathNow(path);
}

bool MainWindow::openPathNow(const QString& path) {
  std::optional<WaitCursor> busy(std::in_place);
  if (isDirectory(toStd(path))) {
    // A folder: the person chooses when it holds several series.
    const std::string folder = toStd(path);
    auto listing = inBackground<SeriesListing>("Scanning the folder\u2026",
                                               [folder] { return listStudySeries(folder); });
    if (!listing.ok()) return report("Could not open the folder", listing.status());
    if (listing->series.size() == 1) return openSeriesNow(path, listing->series.front().uid);
    busy.reset();
    const std::optional<std::string> uid = chooseSeries_(*listing, path);
    return uid && openSeriesNow(path, *uid);
  }
  const std::string file = toStd(path);
  auto ct = inBackground<Volume>("Reading the image\u2026",
                                 [file] { return WorkstationModel::readVolumeFile(file, {}); });
  if (!ct.ok()) return report("Could not open the image", ct.status());
  if (!report("Could not open the image", model_.showVolume(std::move(ct).value(), file, {})))
    return false;
  rememberRecent(path);
  // The 3D rendering is chosen once the surfaces are known (SurfaceSchedule):
  // volume rendering for a CT without labels, surfaces otherwise.
  applySurfaceDecision(surfaces_.studyOpened());
  return true;
}

bool MainWindow::openSeries(const QString& folder, const std::string& seriesUid) {
  if (model_.hasUnsavedEdits()) {
    whenEditsAreSafe([this, folder, seriesUid] { openSeriesNow(folder, seriesUid); });
    return false;
  }
  return openSeriesNow(folder, seriesUid);
}

bool MainWindow::openSeriesNow(const QString& folder, const std::string& seriesUid) {
  WaitCursor busy;
  const std::string dir = toStd(folder);
  auto ct = inBackground<Volume>("Reading the series\u2026", [dir, seriesUid] {
    return WorkstationModel::readVolumeFile(dir, seriesUid);
  });
  if (!ct.ok()) return report("Could not open the series", ct.status());
  if (!report("Could not open the series",
              model_.showVolume(std::move(ct).value(), dir, seriesUid)))
    return false;
  rememberRecent(folder);
  applySurfaceDecision(surfaces_.studyOpened());
  return true;
}

bool MainWindow::openDropped(const QString& path) {
  if (model_.isSegmentationOfOpenCt(toStd(path))) return openSegmentation(path);
  return openPath(path);
}

bool MainWindow::openSegmentation(const QString& path) {
  if (model_.hasUnsavedEdits()) {
    whenEditsAreSafe([this, path] { openSegmentationNow(path); });
    return false;
  }
  return openSegmentationNow(path);
}

bool MainWindow::openSegmentationNow(const QString& path) {
  WaitCursor busy;
  return report("Could not open the segmentation", model_.openLabels(toStd(path)));
}

bool MainWindow::openBlockMap(const QString& path) {
  return report("Could not open the block map", model_.openBlockMap(toStd(path)));
}

bool MainWindow::saveSegmentation(const QString& path) {
  return report("Could not save the segmentation", model_.saveLabels(toStd(path)));
}

bool MainWindow::exportStatistics(const QString& path) {
  return report("Could not export the statistics", model_.exportStatistics(toStd(path)));
}

bool MainWindow::exportDicom(const QString& kind, const QString& path) {
  const Status written = [&] {
    WaitCursor busy;
    if (kind == "seg") return model_.exportDicomSeg(toStd(path));
    if (kind == "rtstruct") return model_.exportRtStruct(toStd(path));
    QString sr = path;
    if (sr.endsWith(".dcm", Qt::CaseInsensitive)) sr.chop(4);
    return model_.exportDicomSegAndSr(toStd(path), toStd(sr + "-sr.dcm"));
  }();
  if (!written.ok()) return report("Could not export the DICOM object", written);
  statusBar()->showMessage(QString("Wrote %1").arg(path), 5000);
  return true;
}

bool MainWindow::openFromPacs() {
  if (pacsCache_.isEmpty())
    pacsCache_ = QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + "/pacs";
  PacsDialog dialog(pacsCache_, this);
  dialog.peerEdit()->setText(lastPacs_);
  if (dialog.exec() != QDialog::Accepted) return false;
  lastPacs_ = dialog.peerEdit()->text();
  return openSeries(QString::fromStdString(dialog.retrievedFolder()), dialog.retrievedSeriesUid());
}

bool MainWindow::sendToPacs(const QString& pacs, const QString& aet) {
  lastPacs_ = pacs;
  PacsBrowser browser;
  if (Status s = browser.connect(toStd(pacs), toStd(aet)); !s.ok())
    return report("Could not send to the PACS", s);
  QTemporaryDir staging;
  if (!staging.isValid())
    return report("Could not send to the PACS",
                  Status(StatusCode::kIoError, "cannot create a temporary folder"));
  const std::string seg = toStd(staging.filePath("seg.dcm"));
  const std::string sr = toStd(staging.filePath("sr.dcm"));
  const Status sent = [&] {
    WaitCursor busy;
    TESSERA_RETURN_IF_ERROR(model_.exportDicomSegAndSr(seg, sr));
    return browser.send({seg, sr});
  }();
  if (!sent.ok()) return report("Could not send to the PACS", sent);
  statusBar()->showMessage(QString("Segmentation and measurements sent to %1").arg(pacs), 5000);
  return true;
}

bool MainWindow::exportMeshes(const QString& directory, const QString& extension) {
  auto written = [&] {
    WaitCursor busy;
    return model_.exportMeshes(toStd(directory), toStd(extension));
  }();
  if (!written.ok()) return report("Could not export meshes", written.status());
  statusBar()->showMessage(QString("%1 meshes written to %2").arg(written->size()).arg(directory),
                           5000);
  return true;
}

QImage MainWindow::renderScreenshot() {
  view3d_->update();
  QApplication::processEvents();
  return grab().toImage();
}

bool MainWindow::saveScreenshot(const QString& path) {
  const Status checked = checkOutputPath(toStd(path));
  if (!report("Could not save the screenshot", checked)) return false;
  const QImage image = renderScreenshot();
  AtomicFile file(toStd(path));
  if (image.isNull() || !image.save(QString::fromStdString(file.tempPath()), "PNG"))
    return report("Could not save the screenshot",
                  Status(StatusCode::kIoError, "the screenshot could not be written", toStd(path)));
  return report("Could not save the screenshot", file.commit());
}

bool MainWindow::segment(const SegmentSettings& settings, RerunChoice choice) {
  if (!model_.hasImage())
    return report("Could not segment",
                  Status(StatusCode::kInvalidArgument, "Open a CT before segmenting it."));
  if (choice != RerunChoice::kCancel && !model_.segmentationState().running) {
    // Loading a model reads its weights (once per model): on a worker thread.
    ModelSession& session = model_.modelSession();
    const std::string modelPath = settings.modelPath;
    auto loaded =
        inBackground<bool>("Loading the model\u2026", [&session, modelPath]() -> Result<bool> {
          TESSERA_RETURN_IF_ERROR(session.load(modelPath));
          return true;
        });
    if (!loaded.ok()) return report("Could not segment", loaded.status());
  }
  const Status started = model_.segment(settings, choice);
  if (!report("Could not segment", started)) return false;
  segmentSettings_ = settings;
  storeSegmentSettings();
  return true;
}

bool MainWindow::segmentAsking(const SegmentSettings& settings) {
  if (!model_.segmentationWouldReplaceEdits() || headless_) return segment(settings);
  auto* box = new QMessageBox(QMessageBox::Question, "Segment again",
                              "You painted labels since the last segmentation.", {}, this);
  box->setObjectName("segmentOverEditsDialog");
  box->setInformativeText(
      "Replace them with the new result, or keep your edits where you painted and take the new "
      "result everywhere else? Either can be undone in one step.");
  QPushButton* replace = box->addButton("Replace", QMessageBox::DestructiveRole);
  replace->setObjectName("replaceEdits");
  QPushButton* keep = box->addButton("Keep my edits where I painted", QMessageBox::AcceptRole);
  keep->setObjectName("keepEdits");
  QPushButton* cancel = box->addButton(QMessageBox::Cancel);
  cancel->setObjectName("cancelSegment");
  box->setDefaultButton(keep);
  box->setAttribute(Qt::WA_DeleteOnClose);
  connect(box, &QMessageBox::finished, this, [this, box, replace, keep, settings](int) {
    const QAbstractButton* clicked = box->clickedButton();
    const RerunChoice choice = clicked == replace ? RerunChoice::kReplace
                               : clicked == keep  ? RerunChoice::kKeepEdits
                                                  : RerunChoice::kCancel;
    if (choice != RerunChoice::kCancel) segment(settings, choice);
  });
  box->open();
  return false;
}

SegmentDialog* MainWindow::openSegmentDialog() {
  if (!model_.hasImage()) {
    report("Could not segment",
           Status(StatusCode::kInvalidArgument, "Open a CT before segmenting it."));
    return nullptr;
  }
  auto* dialog = new SegmentDialog(segmentSettings_, userModels_, this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &QDialog::accepted, this, [this, dialog] {
    userModels_ = dialog->userModels();
    storeSegmentSettings();
    segmentAsking(dialog->settings());
  });
  dialog->open();
  return dialog;
}

bool MainWindow::waitForSegmentation(int timeoutMs) {
  QElapsedTimer timer;
  timer.start();
  while (model_.segmentationState().running) {
    if (timer.elapsed() > timeoutMs) return false;
    QApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
  }
  return true;
}

void MainWindow::loadSegmentSettings() {
  QSettings settings;
  segmentSettings_.modelPath = toStd(settings.value(kModelKey).toString());
  models::parseSegmentMode(toStd(settings.value(kModeKey, "sparse").toString()),
                           &segmentSettings_.mode);
  models::parseSettling(toStd(settings.value(kSettleKey, "balanced").toString()),
                        &segmentSettings_.settling);
  userModels_ = settings.value(kUserModelsKey).toStringList();
}

void MainWindow::storeSegmentSettings() {
  QSettings settings;
  settings.setValue(kModelKey, QString::fromStdString(segmentSettings_.modelPath));
  settings.setValue(kModeKey, models::segmentModeName(segmentSettings_.mode));
  settings.setValue(kSettleKey, models::settlingName(segmentSettings_.settling));
  QStringList models = userModels_;
  const QString current = QString::fromStdString(segmentSettings_.modelPath);
  if (!current.isEmpty() && !models.contains(current)) models.prepend(current);
  while (models.size() > 8) models.removeLast();
  userModels_ = models;
  settings.setValue(kUserModelsKey, models);
}

void MainWindow::whenEditsAreSafe(std::function<void()> then) {
  if (!model_.hasUnsavedEdits()) {
    then();
    return;
  }
  if (headless_) return;
  auto* box = new QMessageBox(QMessageBox::Question, "Unsaved edits",
                              "The segmentation has edits that are not saved.",
                              QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, this);
  box->setObjectName("unsavedEditsDialog");
  box->setInformativeText("Save them before going on?");
  box->setDefaultButton(QMessageBox::Save);
  box->setAttribute(Qt::WA_DeleteOnClose);
  connect(box, &QMessageBox::finished, this, [this, box, then = std::move(then)](int) {
    const auto button = box->standardButton(box->clickedButton());
    if (button == QMessageBox::Discard) {
      then();
    } else if (button == QMessageBox::Save) {
      if (saveSegmentationInteractively()) then();
    }
  });
  box->open();
}

bool MainWindow::saveSegmentationInteractively() {
  const std::string current = model_.document().labelsPath();
  const auto format = imaging::formatFromPath(current);
  if (!current.empty() &&
      (format == imaging::FileFormat::kNifti || format == imaging::FileFormat::kNrrd ||
       format == imaging::FileFormat::kMetaImage))
    return saveSegmentation(QString::fromStdString(current));
  const QString path =
      QFileDialog::getSaveFileName(this, "Save segmentation", "labels.nii.gz", kLabelFilter);
  return !path.isEmpty() && saveSegmentation(path);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (model_.hasUnsavedEdits() && !closeConfirmed_ && !headless_) {
    event->ignore();
    whenEditsAreSafe([this] {
      closeConfirmed_ = true;
      close();
    });
    return;
  }
  model_.cancelSegmentation();
  autosaveTimer_.stop();
  autosaveWatcher_.waitForFinished();
  if (!keepRecovery_) model_.discardRecovery();
  event->accept();
}

void MainWindow::closeKeepingRecovery() {
  autosaveNowAndWait();
  keepRecovery_ = true;
  closeConfirmed_ = true;
  for (QWidget* w : findChildren<QMessageBox*>()) w->close();
  close();
}

QMessageBox* MainWindow::offerRecovery() {
  const std::vector<RecoveryEntry> found = model_.recoveryStore().orphans();
  if (found.empty() || headless_) return nullptr;
  const RecoveryEntry entry = found.front();
  auto* box = new QMessageBox(QMessageBox::Question, "Recover unsaved work",
                              "Tessera was not closed properly; edits that were not saved can be "
                              "recovered.",
                              {}, this);
  box->setObjectName("recoveryDialog");
  box->setInformativeText(
      QString("Image: %1\nAutosaved: %2")
          .arg(QString::fromStdString(entry.ctPath), QString::fromStdString(entry.savedAt)));
  QPushButton* restore = box->addButton("Restore", QMessageBox::AcceptRole);
  restore->setObjectName("restoreRecovery");
  QPushButton* discard = box->addButton("Discard", QMessageBox::DestructiveRole);
  discard->setObjectName("discardRecovery");
  box->setDefaultButton(restore);
  box->setAttribute(Qt::WA_DeleteOnClose);
  connect(box, &QMessageBox::finished, this, [this, box, restore, discard, entry](int) {
    const QAbstractButton* clicked = box->clickedButton();
    if (clicked == restore)
      whenEditsAreSafe([this, entry] { restoreRecovery(entry); });
    else if (clicked == discard)
      RecoveryStore::discard(entry);
  });
  box->open();
  return box;
}

bool MainWindow::restoreRecovery(const RecoveryEntry& entry) {
  std::optional<WaitCursor> busy(std::in_place);
  if (!report("Could not restore the unsaved work", model_.restoreRecovery(entry))) return false;
  rememberRecent(QString::fromStdString(entry.ctPath));
  applySurfaceDecision(surfaces_.studyOpened());
  statusBar()->showMessage("Unsaved work restored; save it to keep it.", 10000);
  return true;
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (!event->mimeData()->hasUrls()) return;
  for (const QUrl& url : event->mimeData()->urls())
    if (!url.isLocalFile()) return;
  event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  QStringList paths;
  for (const QUrl& url : event->mimeData()->urls()) paths << url.toLocalFile();
  event->acceptProposedAction();
  // A CT and its labels dropped together: the CT first.
  std::stable_sort(paths.begin(), paths.end(), [](const QString& a, const QString& b) {
    const auto isLabels = [](const QString& p) {
      auto header = imaging::readHeader(p.toStdString());
      return header.ok() && header->componentType == imaging::ComponentType::kUInt8;
    };
    return !isLabels(a) && isLabels(b);
  });
  for (const QString& path : paths)
    if (!openDropped(path)) break;
}

// --- file dialogs --------------------------------------------------------------------

void MainWindow::chooseAndOpen() {
  const QString path = QFileDialog::getOpenFileName(this, "Open image", QString(), kImageFilter);
  if (!path.isEmpty()) openPath(path);
}

void MainWindow::chooseAndOpenFolder() {
  const QString path = QFileDialog::getExistingDirectory(this, "Open DICOM folder");
  if (!path.isEmpty()) openPath(path);
}

void MainWindow::chooseAndOpenSegmentation() {
  if (!model_.hasImage()) {
    report("Could not open the segmentation",
           Status(StatusCode::kInvalidArgument, "Open a CT before its segmentation."));
    return;
  }
  const QString path =
      QFileDialog::getOpenFileName(this, "Open segmentation", QString(), kOpenLabelFilter);
  if (!path.isEmpty()) openSegmentation(path);
}

void MainWindow::chooseAndOpenBlockMap() {
  const QString path =
      QFileDialog::getOpenFileName(this, "Open block map", QString(), kLabelFilter);
  if (!path.isEmpty()) openBlockMap(path);
}

void MainWindow::chooseAndSaveSegmentation() {
  const QString path = QFileDialog::getSaveFileName(this, "Save segmentation", "labels.nii.gz",
                                                    "NIfTI (*.nii.gz *.nii);;NRRD (*.nrrd)");
  if (!path.isEmpty()) saveSegmentation(path);
}

void MainWindow::chooseAndExportMeshes() {
  const QString directory = QFileDialog::getExistingDirectory(this, "Folder for the meshes");
  if (directory.isEmpty()) return;
  QMessageBox ask(QMessageBox::Question, "Mesh format", "Write the meshes as STL or OBJ?",
                  QMessageBox::NoButton, this);
  QPushButton* stl = ask.addButton("STL", QMessageBox::AcceptRole);
  ask.addButton("OBJ", QMessageBox::AcceptRole);
  ask.addButton(QMessageBox::Cancel);
  ask.exec();
  if (ask.clickedButton() == ask.button(QMessageBox::Cancel)) return;
  exportMeshes(directory, ask.clickedButton() == stl ? ".stl" : ".obj");
}

void MainWindow::chooseAndExportStatistics() {
  const QString path = QFileDialog::getSaveFileName(this, "Export statistics", "statistics.csv",
                                                    "CSV (*.csv);;JSON (*.json)");
  if (!path.isEmpty()) exportStatistics(path);
}

void MainWindow::chooseAndExportDicom(const QString& kind) {
  const QString name = kind == "rtstruct" ? "rtstruct.dcm" : "seg.dcm";
  const QString path =
      QFileDialog::getSaveFileName(this, "Export DICOM", name, "DICOM (*.dcm);;All files (*)");
  if (!path.isEmpty()) exportDicom(kind, path);
}

void MainWindow::chooseAndSaveScreenshot() {
  const QString path =
      QFileDialog::getSaveFileName(this, "Save screenshot", "tessera.png", "PNG (*.png)");
  if (!path.isEmpty()) saveScreenshot(path);
}

}  // namespace tessera::ui
