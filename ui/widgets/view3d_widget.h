// The 3D view: hosts a Scene3D and turns mouse input into camera moves.
// Left drag rotates, right drag or the wheel zooms, middle (or Shift + left)
// drag pans; R resets the camera.
#pragma once

#include <QPoint>

#include "ui/render/scene_3d.h"
#include "ui/widgets/vtk_host_widget.h"

namespace tessera::ui {

class View3DWidget : public VtkHostWidget {
  Q_OBJECT

 public:
  explicit View3DWidget(QWidget* parent = nullptr);
  Scene3D& scene() { return scene_; }

 signals:
  void doubleClicked();

 protected:
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;

 private:
  enum class Drag { kNone, kRotate, kZoom, kPan };
  Scene3D scene_;
  Drag drag_ = Drag::kNone;
  QPoint last_;
};

}  // namespace tessera::ui
