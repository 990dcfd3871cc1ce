// A workstation window on a small synthetic study written to disk, for the
// widget tests.
#pragma once

#include <gtest/gtest.h>

#include <QAction>
#include <QApplication>
#include <QMouseEvent>
#include <QPointF>
#include <QTest>
#include <QWheelEvent>

#include <filesystem>
#include <memory>

#include "imaging/io/volume_io.h"
#include "tests/support/synthetic_study.h"
#include "ui/widgets/label_table_widget.h"
#include "ui/widgets/main_window.h"
#include "ui/widgets/slice_view_widget.h"
#include "ui/widgets/view3d_widget.h"
#include "widget_test_support.h"

namespace tessera::ui::testing {

class MainWindowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_DISPLAY();
    dir_ = QString::fromStdString(
        makeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    study_ = makeStudy();
    ctPath_ = dir_ + "/ct.nii.gz";
    labelsPath_ = dir_ + "/labels.nii.gz";
    ASSERT_TRUE(imaging::writeVolume(study_.ct, ctPath_.toStdString()).ok());
    ASSERT_TRUE(imaging::writeLabelMap(study_.labels, labelsPath_.toStdString()).ok());
    window_ = std::make_unique<MainWindow>();
    window_->resize(1100, 800);
    window_->show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(window_.get()));
  }
  void TearDown() override {
    if (window_) {
      // Tests that leave edits unsaved must not leave a question open.
      window_->setHeadless(true);
      window_.reset();
    }
    for (QWidget* w : QApplication::topLevelWidgets())
      if (qobject_cast<QMessageBox*>(w)) delete w;
    if (!dir_.isEmpty()) std::filesystem::remove_all(dir_.toStdString());
  }

  void openStudy(bool withLabels = true) {
    ASSERT_TRUE(window_->openPath(ctPath_));
    if (withLabels) {
      ASSERT_TRUE(window_->openSegmentation(labelsPath_));
    }
    settle(30);
  }

  SliceViewWidget* axial() const { return window_->sliceView(Plane::kAxial); }
  WorkstationModel& model() { return window_->model(); }

  // Screen point (widget pixels) of the centre of a voxel in a slice view.
  QPoint pointOf(SliceViewWidget* view, const Vec3& ijk) const {
    return view->screenPointOfVoxel(ijk).toPoint();
  }

  // Mouse and key events are sent straight to the widget, not through the
  // X server: tests running in parallel share one virtual display, where
  // pointer position and keyboard focus belong to whichever window is on top.
  static void mouse(QWidget* widget, QEvent::Type type, QPoint at, Qt::MouseButton button,
                    Qt::MouseButtons buttons, Qt::KeyboardModifiers modifiers = {}) {
    QMouseEvent event(type, QPointF(at), QPointF(widget->mapToGlobal(at)), button, buttons,
                      modifiers);
    QApplication::sendEvent(widget, &event);
  }
  static void press(QWidget* w, Qt::MouseButton b, QPoint at, Qt::KeyboardModifiers m = {}) {
    mouse(w, QEvent::MouseButtonPress, at, b, b, m);
  }
  static void moveTo(QWidget* w, QPoint at, Qt::MouseButtons held = Qt::NoButton) {
    mouse(w, QEvent::MouseMove, at, Qt::NoButton, held);
  }
  static void release(QWidget* w, Qt::MouseButton b, QPoint at) {
    mouse(w, QEvent::MouseButtonRelease, at, b, Qt::NoButton);
  }
  static void click(QWidget* w, Qt::MouseButton b, QPoint at) {
    press(w, b, at);
    release(w, b, at);
  }
  static void doubleClick(QWidget* w, QPoint at) {
    click(w, Qt::LeftButton, at);
    mouse(w, QEvent::MouseButtonDblClick, at, Qt::LeftButton, Qt::LeftButton);
    release(w, Qt::LeftButton, at);
  }
  // The window's action whose text (without '&') starts with `text`.
  QAction* action(const QString& text) const {
    for (QAction* a : window_->findChildren<QAction*>())
      if (a->text().remove('&').startsWith(text)) return a;
    return nullptr;
  }

  void wheel(QWidget* widget, QPoint at, int notches, Qt::KeyboardModifiers modifiers = {}) {
    QWheelEvent event(QPointF(at), QPointF(widget->mapToGlobal(at)), QPoint(),
                      QPoint(0, 120 * notches), Qt::NoButton, modifiers, Qt::NoScrollPhase, false);
    QApplication::sendEvent(widget, &event);
  }

  QImage grab(QWidget* widget) {
    settle(10);
    return widget->grab().toImage().convertToFormat(QImage::Format_RGB32);
  }

  static std::array<std::uint8_t, 3> rgbAt(const QImage& image, QPoint p) {
    const QRgb c = image.pixel(p);
    return {static_cast<std::uint8_t>(qRed(c)), static_cast<std::uint8_t>(qGreen(c)),
            static_cast<std::uint8_t>(qBlue(c))};
  }

  QString dir_, ctPath_, labelsPath_;
  SyntheticStudy study_;
  std::unique_ptr<MainWindow> window_;
};

}  // namespace tessera::ui::testing
