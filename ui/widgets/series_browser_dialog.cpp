#include "ui/widgets/series_browser_dialog.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QVBoxLayout>

namespace tessera::ui {

int defaultSeriesIndex(const std::vector<SeriesEntry>& series) {
  int best = -1;
  bool bestIsCt = false;
  for (int i = 0; i < static_cast<int>(series.size()); ++i) {
    const SeriesEntry& s = series[static_cast<std::size_t>(i)];
    const bool isCt = s.modality == "CT";
    if (best < 0 || (isCt && !bestIsCt) ||
        (isCt == bestIsCt && s.slices > series[static_cast<std::size_t>(best)].slices)) {
      best = i;
      bestIsCt = isCt;
    }
  }
  return best;
}

SeriesBrowserDialog::SeriesBrowserDialog(const std::vector<SeriesEntry>& series,
                                         const QString& folder, QWidget* parent)
    : QDialog(parent), series_(series), table_(new QTableWidget(this)) {
  setWindowTitle("Choose a DICOM series");
  auto* layout = new QVBoxLayout(this);
  auto* intro = new QLabel(QString("%1 series found in %2").arg(series.size()).arg(folder), this);
  intro->setWordWrap(true);
  layout->addWidget(intro);

  const QStringList headers{"Patient", "Study", "Series", "Modality", "Slices", "Warnings"};
  table_->setColumnCount(headers.size());
  table_->setHorizontalHeaderLabels(headers);
  table_->setRowCount(static_cast<int>(series.size()));
  table_->verticalHeader()->hide();
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  for (int r = 0; r < static_cast<int>(series.size()); ++r) {
    const SeriesEntry& s = series[static_cast<std::size_t>(r)];
    QString warnings;
    for (const std::string& w : s.warnings)
      warnings += (warnings.isEmpty() ? "" : "; ") + QString::fromStdString(w);
    const QStringList cells{QString::fromStdString(s.patient),
                            QString::fromStdString(s.study),
                            QString::fromStdString(s.description),
                            QString::fromStdString(s.modality),
                            QString::number(s.slices),
                            warnings};
    for (int c = 0; c < cells.size(); ++c) {
      auto* item = new QTableWidgetItem(cells[c]);
      item->setToolTip(c == 5 ? warnings : QString::fromStdString(s.uid));
      if (c == 4) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      if (c == 5 && !warnings.isEmpty()) item->setForeground(QColor(230, 150, 40));
      table_->setItem(r, c, item);
    }
  }
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setStretchLastSection(true);
  const int preselected = defaultSeriesIndex(series);
  if (preselected >= 0) table_->setCurrentCell(preselected, 0);
  layout->addWidget(table_);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Open | QDialogButtonBox::Cancel, this);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(table_, &QTableWidget::cellDoubleClicked, this, [this](int, int) { accept(); });
  layout->addWidget(buttons);
  resize(760, 320);
}

std::string SeriesBrowserDialog::selectedUid() const {
  const int row = table_->currentRow();
  if (row < 0 || row >= static_cast<int>(series_.size())) return {};
  return series_[static_cast<std::size_t>(row)].uid;
}

}  // namespace tessera::ui
