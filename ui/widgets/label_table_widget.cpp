#include "ui/widgets/label_table_widget.h"

#include <QHeaderView>
#include <QPainter>
#include <QPixmap>

#include <cmath>

namespace tessera::ui {

namespace {

QIcon swatch(const std::array<std::uint8_t, 3>& rgb) {
  QPixmap pixmap(14, 14);
  pixmap.fill(Qt::transparent);
  QPainter painter(&pixmap);
  painter.setPen(QColor(0, 0, 0, 160));
  painter.setBrush(QColor(rgb[0], rgb[1], rgb[2]));
  painter.drawRoundedRect(QRectF(0.5, 0.5, 13, 13), 3, 3);
  return QIcon(pixmap);
}

}  // namespace

LabelTableWidget::LabelTableWidget(WorkstationModel& model, QWidget* parent)
    : QTableWidget(parent), model_(model) {
  setColumnCount(kColumnCount);
  setHorizontalHeaderLabels({"", "Label", "Volume (mL)", "Mean HU"});
  verticalHeader()->hide();
  horizontalHeader()->setSectionResizeMode(kColourColumn, QHeaderView::ResizeToContents);
  horizontalHeader()->setSectionResizeMode(kNameColumn, QHeaderView::Stretch);
  horizontalHeader()->setSectionResizeMode(kVolumeColumn, QHeaderView::ResizeToContents);
  horizontalHeader()->setSectionResizeMode(kMeanColumn, QHeaderView::ResizeToContents);
  setSelectionBehavior(QAbstractItemView::SelectRows);
  setSelectionMode(QAbstractItemView::SingleSelection);
  setEditTriggers(QAbstractItemView::NoEditTriggers);
  setShowGrid(false);
  setAlternatingRowColors(true);
  verticalHeader()->setDefaultSectionSize(22);
  connect(this, &QTableWidget::itemChanged, this, &LabelTableWidget::onItemChanged);
  connect(this, &QTableWidget::currentCellChanged, this,
          [this](int row, int, int, int) { onCurrentRowChanged(row); });
  refresh();
}

int LabelTableWidget::rowOf(std::uint8_t value) const {
  for (int row = 0; row < rowCount(); ++row)
    if (item(row, kNameColumn) && item(row, kNameColumn)->data(Qt::UserRole).toInt() == value)
      return row;
  return -1;
}

void LabelTableWidget::refresh() {
  refreshing_ = true;
  const auto& rows = model_.labelTable().rows();
  setRowCount(static_cast<int>(rows.size()));
  for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
    const LabelRow& row = rows[static_cast<std::size_t>(r)];
    auto ensure = [&](int column) {
      QTableWidgetItem* it = item(r, column);
      if (!it) {
        it = new QTableWidgetItem();
        setItem(r, column, it);
      }
      return it;
    };
    ensure(kColourColumn)->setIcon(swatch(row.rgb));
    QTableWidgetItem* name = ensure(kNameColumn);
    name->setText(QString::fromStdString(row.name));
    name->setData(Qt::UserRole, int(row.value));
    name->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsUserCheckable);
    name->setCheckState(row.visible ? Qt::Checked : Qt::Unchecked);
    name->setToolTip(QString("Label value %1; the check box shows or hides it").arg(row.value));
    QTableWidgetItem* volume = ensure(kVolumeColumn);
    volume->setText(row.voxels > 0 ? QString::number(row.volumeMl, 'f', 2) : QString("\u2013"));
    volume->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    QTableWidgetItem* mean = ensure(kMeanColumn);
    mean->setText(std::isfinite(row.meanHu) ? QString::number(row.meanHu, 'f', 1)
                                            : QString("\u2013"));
    mean->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    const QColor text = row.voxels > 0 ? palette().color(QPalette::Text)
                                       : palette().color(QPalette::PlaceholderText);
    for (int c = kNameColumn; c < kColumnCount; ++c) item(r, c)->setForeground(text);
  }
  const int selected = rowOf(model_.selectedLabel());
  if (selected >= 0 && currentRow() != selected) setCurrentCell(selected, kNameColumn);
  refreshing_ = false;
}

void LabelTableWidget::onItemChanged(QTableWidgetItem* changed) {
  if (refreshing_ || changed->column() != kNameColumn) return;
  const auto value = static_cast<std::uint8_t>(changed->data(Qt::UserRole).toInt());
  const bool visible = changed->checkState() == Qt::Checked;
  if (model_.labelTable().visible(value) != visible) model_.setLabelVisible(value, visible);
}

void LabelTableWidget::onCurrentRowChanged(int row) {
  if (refreshing_ || row < 0 || !item(row, kNameColumn)) return;
  const auto value = static_cast<std::uint8_t>(item(row, kNameColumn)->data(Qt::UserRole).toInt());
  if (value != model_.selectedLabel()) model_.setSelectedLabel(value);
}

}  // namespace tessera::ui
