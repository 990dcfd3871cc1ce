// Helpers for the widget tests: skipping without a display, waiting for the
// event loop, and reading pixels back.
#pragma once

#include <gtest/gtest.h>

#include <QApplication>
#include <QColor>
#include <QElapsedTimer>
#include <QImage>
#include <QMessageBox>
#include <QWidget>

#include <functional>

namespace tessera::ui::testing {

extern bool displayAvailable;

#define TESSERA_REQUIRE_DISPLAY()                \
  if (!::tessera::ui::testing::displayAvailable) \
  GTEST_SKIP() << "no display: run under xvfb-run -a -s \"-screen 0 1280x1024x24 -noreset\""

// Processes events until `done` holds or the timeout passes.
inline bool waitUntil(const std::function<bool()>& done, int timeoutMs = 10000) {
  QElapsedTimer timer;
  timer.start();
  while (!done()) {
    if (timer.elapsed() > timeoutMs) return false;
    QApplication::processEvents(QEventLoop::AllEvents, 20);
  }
  return true;
}

inline void settle(int ms = 50) {
  QElapsedTimer timer;
  timer.start();
  while (timer.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 10);
}

// The first visible top-level message box with this object name, if any.
inline QMessageBox* findMessageBox(const QString& objectName) {
  for (QWidget* w : QApplication::topLevelWidgets())
    if (auto* box = qobject_cast<QMessageBox*>(w))
      if (box->isVisible() && box->objectName() == objectName) return box;
  return nullptr;
}

// Pixels that differ from `background` by more than `tolerance` per channel.
inline int countNonBackground(const QImage& image, QColor background, int tolerance = 12) {
  int count = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) {
      const QColor c = image.pixelColor(x, y);
      if (std::abs(c.red() - background.red()) > tolerance ||
          std::abs(c.green() - background.green()) > tolerance ||
          std::abs(c.blue() - background.blue()) > tolerance)
        ++count;
    }
  return count;
}

}  // namespace tessera::ui::testing
