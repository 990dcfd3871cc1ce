#include "ui/widgets/view_panel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QStyle>
#include <QToolButton>
#include <QVBoxLayout>

namespace tessera::ui {

ViewPanel::ViewPanel(const QString& title, const QColor& accent, QWidget* view, QWidget* parent)
    : QFrame(parent), view_(view), button_(new QToolButton(this)) {
  setFrameShape(QFrame::NoFrame);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(0);

  auto* header = new QFrame(this);
  header->setObjectName("viewHeader");
  header->setStyleSheet(
      QString("#viewHeader { background: #1b1d22; border-top: 2px solid %1; }").arg(accent.name()));
  auto* headerLayout = new QHBoxLayout(header);
  headerLayout->setContentsMargins(8, 1, 2, 1);
  auto* label = new QLabel(title, header);
  label->setStyleSheet(QString("color: %1; font-weight: bold;").arg(accent.lighter(120).name()));
  headerLayout->addWidget(label);
  headerLayout->addStretch(1);
  button_->setAutoRaise(true);
  button_->setToolTip("Maximise this view (or double-click it)");
  button_->setIcon(style()->standardIcon(QStyle::SP_TitleBarMaxButton));
  button_->setIconSize(QSize(12, 12));
  connect(button_, &QToolButton::clicked, this, &ViewPanel::maximiseToggled);
  headerLayout->addWidget(button_);

  layout->addWidget(header);
  view->setParent(this);
  layout->addWidget(view, 1);
}

void ViewPanel::setMaximised(bool maximised) {
  button_->setIcon(style()->standardIcon(maximised ? QStyle::SP_TitleBarNormalButton
                                                   : QStyle::SP_TitleBarMaxButton));
  button_->setToolTip(maximised ? "Back to four views" : "Maximise this view (or double-click it)");
}

}  // namespace tessera::ui
