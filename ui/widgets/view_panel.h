// A frame around one view: a slim title bar in the plane's colour with a
// maximise/restore button, and the view below it.
#pragma once

#include <QFrame>
#include <QString>

class QLabel;
class QToolButton;

namespace tessera::ui {

class ViewPanel : public QFrame {
  Q_OBJECT

 public:
  ViewPanel(const QString& title, const QColor& accent, QWidget* view, QWidget* parent = nullptr);
  QWidget* view() const { return view_; }
  QToolButton* maximiseButton() const { return button_; }
  void setMaximised(bool maximised);

 signals:
  void maximiseToggled();

 private:
  QWidget* view_;
  QToolButton* button_;
};

}  // namespace tessera::ui
