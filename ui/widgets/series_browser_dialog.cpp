#include "ui/widgets/series_browser_dialog.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QVBoxLayout>

namespace tessera::ui {

SeriesBrowserDialog::SeriesBrowserDialog(const SeriesListing& listing, const QString& folder,
                                         QWidget* parent)
    : QDialog(parent), series_(listing.series), table_(new QTableWidget(this)) {
  const std::vector<SeriesEntry>& series = series_;
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
      if (!s.readable) item->setFlags(item->flags() & ~(Qt::ItemIsEnabled | Qt::ItemIsSelectable));
      table_->setItem(r, c, item);
    }
  }
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setStretchLastSection(true);
  if (listing.defaultIndex >= 0) table_->setCurrentCell(listing.defaultIndex, 0);
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
  const SeriesEntry& entry = series_[static_cast<std::size_t>(row)];
  return entry.readable ? entry.uid : std::string();
}

}  // namespace tessera::ui
