#include "ui/widgets/segment_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>

#include "models/io/onnx_model.h"
#include "models/pipeline/model_store.h"

namespace tessera::ui {

namespace {

constexpr int kOpenItem = -1;  // the "Open ONNX model…" entry (item data role)
constexpr int kKindRole = Qt::UserRole + 1;

const models::Settling kLevels[] = {models::Settling::kOff, models::Settling::kConservative,
                                    models::Settling::kBalanced, models::Settling::kAggressive};

QString errorText(const Error& error) {
  QString text = QString::fromStdString(error.message);
  if (!error.context.empty()) text += "\n" + QString::fromStdString(error.context);
  return text;
}

}  // namespace

SegmentDialog::SegmentDialog(const SegmentSettings& initial, const QStringList& userModels,
                             QWidget* parent)
    : QDialog(parent) {
  setObjectName("segmentDialog");
  setWindowTitle("Segment");
  auto* layout = new QVBoxLayout(this);
  auto* form = new QFormLayout();

  modelCombo_ = new QComboBox(this);
  modelCombo_->setObjectName("modelChoice");
  modelCombo_->addItem("Bundled default model", QString());
  for (const QString& path : userModels)
    if (!path.isEmpty()) modelCombo_->addItem(QFileInfo(path).fileName(), path);
  modelCombo_->addItem("Open ONNX model\u2026");
  modelCombo_->setItemData(modelCombo_->count() - 1, kOpenItem, kKindRole);
  connect(modelCombo_, &QComboBox::activated, this, &SegmentDialog::onModelActivated);
  form->addRow("Model", modelCombo_);

  modelInfo_ = new QLabel(this);
  modelInfo_->setObjectName("modelInfo");
  modelInfo_->setWordWrap(true);
  modelInfo_->setMinimumWidth(420);
  modelInfo_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  form->addRow(QString(), modelInfo_);

  modeCombo_ = new QComboBox(this);
  modeCombo_->setObjectName("segmentMode");
  modeCombo_->addItem("Sparse \u2014 compute only the blocks that hold anatomy");
  modeCombo_->addItem("Dense \u2014 compute every block");
  form->addRow("Mode", modeCombo_);

  settleCombo_ = new QComboBox(this);
  settleCombo_->setObjectName("settleLevel");
  settleCombo_->addItems({"Off", "Conservative", "Balanced", "Aggressive"});
  settleCombo_->setToolTip(
      "Output-driven sparsity: finer decoder levels skip the blocks a coarser level already "
      "labels confidently. More aggressive is faster and may move boundaries slightly.");
  form->addRow("Settling", settleCombo_);
  connect(modeCombo_, &QComboBox::currentIndexChanged, this,
          [this](int index) { settleCombo_->setEnabled(index == 0); });
  layout->addLayout(form);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
  segmentButton_ = buttons->addButton("Segment", QDialogButtonBox::AcceptRole);
  segmentButton_->setObjectName("startSegmentation");
  segmentButton_->setDefault(true);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  layout->addWidget(buttons);

  modeCombo_->setCurrentIndex(initial.mode == models::SegmentMode::kSparse ? 0 : 1);
  settleCombo_->setEnabled(initial.mode == models::SegmentMode::kSparse);
  for (int i = 0; i < 4; ++i)
    if (kLevels[i] == initial.settling) settleCombo_->setCurrentIndex(i);
  selectModel(QString::fromStdString(initial.modelPath));
}

SegmentSettings SegmentDialog::settings() const {
  SegmentSettings s;
  s.modelPath = modelCombo_->currentData().toString().toStdString();
  s.mode =
      modeCombo_->currentIndex() == 0 ? models::SegmentMode::kSparse : models::SegmentMode::kDense;
  s.settling = kLevels[std::clamp(settleCombo_->currentIndex(), 0, 3)];
  return s;
}

QStringList SegmentDialog::userModels() const {
  QStringList paths;
  for (int i = 1; i < modelCombo_->count(); ++i)
    if (modelCombo_->itemData(i, kKindRole).toInt() != kOpenItem)
      paths << modelCombo_->itemData(i).toString();
  return paths;
}

void SegmentDialog::selectModel(const QString& path) {
  int index = modelCombo_->findData(path);
  if (index < 0 || modelCombo_->itemData(index, kKindRole).toInt() == kOpenItem) {
    index = modelCombo_->count() - 1;  // before "Open ONNX model…"
    modelCombo_->insertItem(index, QFileInfo(path).fileName(), path);
  }
  modelCombo_->setCurrentIndex(index);
  lastModelIndex_ = index;
  describeSelection();
}

void SegmentDialog::onModelActivated(int index) {
  if (modelCombo_->itemData(index, kKindRole).toInt() != kOpenItem) {
    lastModelIndex_ = index;
    describeSelection();
    return;
  }
  // Back to the previous choice until a file has been read.
  modelCombo_->setCurrentIndex(lastModelIndex_);
  const QString path =
      QFileDialog::getOpenFileName(this, "Open ONNX model", QString(), "ONNX models (*.onnx)");
  if (!path.isEmpty()) chooseModelFile(path);
}

bool SegmentDialog::chooseModelFile(const QString& path) {
  auto info = models::readOnnxInfo(path.toStdString());
  if (!info.ok()) {
    auto* box = new QMessageBox(QMessageBox::Warning, "Not a usable model",
                                "This file is not a model Tessera can run.", QMessageBox::Ok, this);
    box->setObjectName("errorDialog");
    box->setInformativeText(errorText(info.error()) + "\n" + path);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    return false;
  }
  selectModel(path);
  return true;
}

void SegmentDialog::describeSelection() {
  const QString chosen = modelCombo_->currentData().toString();
  std::string path = chosen.toStdString();
  bool usable = true;
  QString text;
  if (path.empty()) {
    auto found = models::defaultModelPath();
    if (found.ok()) {
      path = *found;
    } else {
      usable = false;
      text = "The bundled model is not installed here. Open an ONNX model instead.";
    }
  }
  if (usable) {
    auto info = models::readOnnxInfo(path);
    if (info.ok()) {
      text = QString::fromStdString(describeModel(*info));
      if (!info->description.empty()) text += "\n" + QString::fromStdString(info->description);
    } else {
      usable = false;
      text = errorText(info.error());
    }
  }
  modelInfo_->setText(text);
  modelInfo_->setStyleSheet(usable ? "" : "color: #e0a040;");
  modelInfo_->setToolTip(QString::fromStdString(path));
  segmentButton_->setEnabled(usable);
}

}  // namespace tessera::ui
