#include "ui/widgets/pacs_dialog.h"

#include <QApplication>
#include <QEventLoop>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QTimer>
#include <QVBoxLayout>

#include <atomic>
#include <optional>
#include <thread>

namespace tessera::ui {
namespace {

QString q(const std::string& s) {
  return QString::fromStdString(s);
}

void setupTable(QTableWidget* t, const QStringList& headers) {
  t->setColumnCount(headers.size());
  t->setHorizontalHeaderLabels(headers);
  t->verticalHeader()->hide();
  t->setSelectionBehavior(QAbstractItemView::SelectRows);
  t->setSelectionMode(QAbstractItemView::SingleSelection);
  t->setEditTriggers(QAbstractItemView::NoEditTriggers);
  t->horizontalHeader()->setStretchLastSection(true);
}

void fill(QTableWidget* t, int row, const QStringList& cells) {
  for (int c = 0; c < cells.size(); ++c) t->setItem(row, c, new QTableWidgetItem(cells[c]));
}

// Progress from the worker thread, read by the GUI thread's timer.
class AtomicProgress : public ProgressSink {
 public:
  void update(const ProgressUpdate& u) override { fraction.store(u.fraction); }
  std::atomic<double> fraction{0.0};
};

}  // namespace

PacsDialog::PacsDialog(QString cacheRoot, QWidget* parent)
    : QDialog(parent),
      cacheRoot_(std::move(cacheRoot)),
      peer_(new QLineEdit(this)),
      aet_(new QLineEdit("TESSERA", this)),
      patient_(new QLineEdit(this)),
      studies_(new QTableWidget(this)),
      series_(new QTableWidget(this)),
      message_(new QLabel(this)),
      progress_(new QProgressBar(this)),
      open_(new QPushButton("Open", this)),
      cancel_(new QPushButton("Cancel", this)) {
  setObjectName("openFromPacsDialog");
  setWindowTitle("Open from PACS");
  peer_->setObjectName("pacsPeer");
  peer_->setPlaceholderText("AET@HOST:PORT or http://host:port/dicom-web");
  aet_->setObjectName("pacsAet");
  patient_->setObjectName("pacsPatient");
  patient_->setPlaceholderText("Patient ID, or name as Family^Given (* wildcards)");
  studies_->setObjectName("pacsStudies");
  series_->setObjectName("pacsSeries");
  message_->setObjectName("pacsMessage");
  message_->setWordWrap(true);
  progress_->setObjectName("pacsProgress");
  progress_->setRange(0, 1000);
  progress_->hide();
  open_->setObjectName("pacsOpen");
  cancel_->setObjectName("pacsCancel");

  auto* layout = new QVBoxLayout(this);
  auto* form = new QFormLayout;
  form->addRow("PACS", peer_);
  form->addRow("Tessera's AE title", aet_);
  auto* searchRow = new QHBoxLayout;
  auto* searchButton = new QPushButton("Search", this);
  searchButton->setObjectName("pacsSearch");
  searchRow->addWidget(patient_);
  searchRow->addWidget(searchButton);
  form->addRow("Patient", searchRow);
  layout->addLayout(form);
  setupTable(studies_, {"Patient", "ID", "Date", "Study", "Modalities", "Instances"});
  setupTable(series_, {"Number", "Modality", "Series", "Instances"});
  layout->addWidget(studies_, 2);
  layout->addWidget(series_, 1);
  layout->addWidget(message_);
  layout->addWidget(progress_);
  auto* buttons = new QHBoxLayout;
  buttons->addStretch();
  buttons->addWidget(cancel_);
  buttons->addWidget(open_);
  layout->addLayout(buttons);
  open_->setEnabled(false);
  resize(760, 560);

  connect(searchButton, &QPushButton::clicked, this, [this] { search(); });
  connect(patient_, &QLineEdit::returnPressed, this, [this] { search(); });
  connect(studies_, &QTableWidget::itemSelectionChanged, this, [this] {
    const auto rows = studies_->selectionModel()->selectedRows();
    if (!rows.isEmpty()) selectStudy(rows.front().row());
  });
  connect(series_, &QTableWidget::itemSelectionChanged, this, [this] {
    open_->setEnabled(!busy_ && !series_->selectionModel()->selectedRows().isEmpty());
  });
  connect(open_, &QPushButton::clicked, this, [this] { retrieveSelected(); });
  connect(cancel_, &QPushButton::clicked, this, [this] {
    if (busy_)
      cancelToken_.cancel();
    else
      reject();
  });
}

template <class T>
T PacsDialog::wait(const std::function<T()>& work, const std::function<void()>& poll) {
  std::optional<T> result;
  std::atomic<bool> done{false};
  std::thread worker([&] {
    result.emplace(work());
    done = true;
  });
  QEventLoop loop;
  QTimer timer;
  connect(&timer, &QTimer::timeout, &loop, [&] {
    if (poll) poll();
    if (done) loop.quit();
  });
  timer.start(50);
  loop.exec();
  worker.join();
  return std::move(*result);
}

void PacsDialog::fail(const Status& status) {
  message_->setText(q(status.toString()));
}

bool PacsDialog::connectBrowser() {
  const Status s =
      browser_.connect(peer_->text().trimmed().toStdString(), aet_->text().trimmed().toStdString());
  if (!s.ok()) fail(s);
  return s.ok();
}

bool PacsDialog::search() {
  if (busy_ || !connectBrowser()) return false;
  const std::string patient = patient_->text().trimmed().toStdString();
  busy_ = true;
  QApplication::setOverrideCursor(Qt::WaitCursor);
  auto found =
      wait<Result<std::vector<imaging::PacsMatch>>>([&] { return browser_.studies(patient); });
  QApplication::restoreOverrideCursor();
  busy_ = false;
  studies_->setRowCount(0);
  series_->setRowCount(0);
  if (!found.ok()) {
    fail(found.error());
    return false;
  }
  studyRows_ = std::move(*found);
  studies_->setRowCount(static_cast<int>(studyRows_.size()));
  for (int r = 0; r < static_cast<int>(studyRows_.size()); ++r) {
    const imaging::PacsMatch& m = studyRows_[static_cast<std::size_t>(r)];
    fill(studies_, r,
         {q(m.patientName), q(m.patientId), q(m.studyDate), q(m.studyDescription),
          q(m.modalitiesInStudy), m.instances >= 0 ? QString::number(m.instances) : QString()});
  }
  message_->setText(QString("%1 studies on %2").arg(studyRows_.size()).arg(q(browser_.name())));
  return true;
}

bool PacsDialog::selectStudy(int row) {
  if (busy_ || selecting_ || row < 0 || row >= static_cast<int>(studyRows_.size())) return false;
  selecting_ = true;
  if (studies_->currentRow() != row) studies_->selectRow(row);
  selecting_ = false;
  const std::string studyUid = studyRows_[static_cast<std::size_t>(row)].studyUid;
  busy_ = true;
  QApplication::setOverrideCursor(Qt::WaitCursor);
  auto found =
      wait<Result<std::vector<imaging::PacsMatch>>>([&] { return browser_.series(studyUid); });
  QApplication::restoreOverrideCursor();
  busy_ = false;
  series_->setRowCount(0);
  if (!found.ok()) {
    fail(found.error());
    return false;
  }
  seriesRows_ = std::move(*found);
  series_->setRowCount(static_cast<int>(seriesRows_.size()));
  int firstCt = -1;
  for (int r = 0; r < static_cast<int>(seriesRows_.size()); ++r) {
    const imaging::PacsMatch& m = seriesRows_[static_cast<std::size_t>(r)];
    fill(series_, r,
         {q(m.seriesNumber), q(m.modality), q(m.seriesDescription),
          m.instances >= 0 ? QString::number(m.instances) : QString()});
    if (firstCt < 0 && m.modality == "CT") firstCt = r;
  }
  if (firstCt >= 0) series_->selectRow(firstCt);
  return true;
}

bool PacsDialog::retrieveSelected() {
  const auto rows = series_->selectionModel()->selectedRows();
  if (busy_ || rows.isEmpty()) return false;
  const imaging::PacsMatch chosen = seriesRows_[static_cast<std::size_t>(rows.front().row())];
  busy_ = true;
  open_->setEnabled(false);
  progress_->setValue(0);
  progress_->show();
  message_->setText("Retrieving " + q(chosen.seriesDescription) + "\u2026");
  cancelToken_.reset();
  AtomicProgress progress;
  const std::string cache = cacheRoot_.toStdString();
  Result<std::string> result = wait<Result<std::string>>(
      [&] {
        return browser_.retrieve(chosen.studyUid, chosen.seriesUid, cache, &progress,
                                 &cancelToken_);
      },
      [&] { progress_->setValue(static_cast<int>(1000 * progress.fraction.load())); });
  busy_ = false;
  progress_->hide();
  if (!result.ok()) {
    fail(result.error());
    open_->setEnabled(true);
    return false;
  }
  folder_ = *result;
  seriesUid_ = chosen.seriesUid;
  accept();
  return true;
}

}  // namespace tessera::ui
