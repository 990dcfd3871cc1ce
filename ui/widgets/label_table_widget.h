// The label table: colour, name with a visibility check box, volume in mL and
// mean HU per label. Selecting a row selects the label the brush paints.
#pragma once

#include <QTableWidget>

#include "ui/model/workstation_model.h"

namespace tessera::ui {

class LabelTableWidget : public QTableWidget {
  Q_OBJECT

 public:
  enum Column { kColourColumn = 0, kNameColumn, kVolumeColumn, kMeanColumn, kColumnCount };

  explicit LabelTableWidget(WorkstationModel& model, QWidget* parent = nullptr);
  void refresh();
  // Row of a label value, or -1.
  int rowOf(std::uint8_t value) const;

 private:
  void onItemChanged(QTableWidgetItem* item);
  void onCurrentRowChanged(int row);

  WorkstationModel& model_;
  bool refreshing_ = false;
};

}  // namespace tessera::ui
