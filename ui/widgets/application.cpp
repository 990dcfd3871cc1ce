#include "ui/widgets/application.h"

#include <QMessageBox>
#include <QPalette>
#include <QStyleFactory>

#include <exception>

#include "core/log.h"

namespace tessera::ui {

WorkstationApplication::WorkstationApplication(int& argc, char** argv) : QApplication(argc, argv) {
  setOrganizationName("Tessera");
  setApplicationName("Workstation");
}

bool WorkstationApplication::notify(QObject* receiver, QEvent* event) {
  try {
    return QApplication::notify(receiver, event);
  } catch (const std::bad_alloc&) {
    logError("out of memory while handling an event");
    QMessageBox::critical(nullptr, "Out of memory",
                          "Tessera ran out of memory. Your open study is unchanged; close other "
                          "programs or open a smaller study.");
  } catch (const std::exception& e) {
    logError("unexpected error while handling an event: ", e.what());
    QMessageBox::critical(nullptr, "Unexpected error", QString::fromUtf8(e.what()));
  } catch (...) {
    logError("unexpected error while handling an event");
  }
  return false;
}

void applyDarkTheme(QApplication& app) {
  app.setStyle(QStyleFactory::create("Fusion"));
  QPalette p;
  const QColor window(37, 39, 44), base(26, 27, 31), text(220, 222, 226), accent(70, 130, 200);
  p.setColor(QPalette::Window, window);
  p.setColor(QPalette::WindowText, text);
  p.setColor(QPalette::Base, base);
  p.setColor(QPalette::AlternateBase, QColor(33, 35, 40));
  p.setColor(QPalette::ToolTipBase, QColor(50, 52, 58));
  p.setColor(QPalette::ToolTipText, text);
  p.setColor(QPalette::PlaceholderText, QColor(120, 124, 132));
  p.setColor(QPalette::Text, text);
  p.setColor(QPalette::Button, QColor(48, 50, 56));
  p.setColor(QPalette::ButtonText, text);
  p.setColor(QPalette::BrightText, Qt::red);
  p.setColor(QPalette::Highlight, accent);
  p.setColor(QPalette::HighlightedText, Qt::white);
  p.setColor(QPalette::Link, accent.lighter(130));
  p.setColor(QPalette::Disabled, QPalette::Text, QColor(110, 112, 118));
  p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(110, 112, 118));
  p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(110, 112, 118));
  app.setPalette(p);
  app.setStyleSheet(
      "QToolBar { spacing: 4px; padding: 2px; border: none; }"
      "QToolBar QToolButton { padding: 3px 8px; border-radius: 3px; }"
      "QToolBar QToolButton:checked { background: #3d5f8a; }"
      "QDockWidget::title { padding: 4px 6px; background: #2c2e34; }"
      "QStatusBar QLabel { padding: 0 6px; }");
}

}  // namespace tessera::ui
