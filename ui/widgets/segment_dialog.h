// Chooses what a segmentation runs with: the model (the bundled default or
// a user's ONNX file, each shown with its name, version and labels), the
// mode (sparse or dense) and, for sparse runs, the level of output-driven
// sparsity (settling). Reads only model metadata (readOnnxInfo); the weights are loaded
// when the segmentation starts.
#pragma once

#include <QDialog>
#include <QString>
#include <QStringList>

#include "ui/model/model_session.h"

class QComboBox;
class QLabel;
class QPushButton;

namespace tessera::ui {

class SegmentDialog : public QDialog {
  Q_OBJECT

 public:
  // `userModels`: ONNX files chosen before, offered after the default.
  SegmentDialog(const SegmentSettings& initial, const QStringList& userModels,
                QWidget* parent = nullptr);

  SegmentSettings settings() const;
  // Every user model in the list (for remembering them).
  QStringList userModels() const;

  // What "Open ONNX model…" does with the chosen file: reads its metadata and
  // selects it, or shows why it cannot be used (a dialog with object name
  // "errorDialog") and keeps the previous choice. Returns whether it was taken.
  bool chooseModelFile(const QString& path);

 private:
  void onModelActivated(int index);
  void selectModel(const QString& path);
  void describeSelection();

  QComboBox* modelCombo_ = nullptr;
  QLabel* modelInfo_ = nullptr;
  QComboBox* modeCombo_ = nullptr;
  QComboBox* settleCombo_ = nullptr;
  QPushButton* segmentButton_ = nullptr;
  int lastModelIndex_ = 0;
};

}  // namespace tessera::ui
