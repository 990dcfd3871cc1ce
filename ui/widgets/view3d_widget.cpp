#include "ui/widgets/view3d_widget.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QWheelEvent>

#include <cmath>

namespace tessera::ui {

View3DWidget::View3DWidget(QWidget* parent) : VtkHostWidget(parent) {
  scene_.attach(renderWindow());
  setFocusPolicy(Qt::StrongFocus);
  setMinimumSize(120, 120);
}

void View3DWidget::mousePressEvent(QMouseEvent* event) {
  last_ = event->position().toPoint();
  if (event->button() == Qt::LeftButton)
    drag_ = (event->modifiers() & Qt::ShiftModifier) ? Drag::kPan : Drag::kRotate;
  else if (event->button() == Qt::RightButton)
    drag_ = Drag::kZoom;
  else if (event->button() == Qt::MiddleButton)
    drag_ = Drag::kPan;
}

void View3DWidget::mouseMoveEvent(QMouseEvent* event) {
  if (drag_ == Drag::kNone) return;
  const QPoint p = event->position().toPoint();
  const QPoint d = p - last_;
  last_ = p;
  const std::array<int, 2> size{width(), height()};
  switch (drag_) {
    case Drag::kRotate:
      scene_.rotate(d.x(), d.y(), size);
      break;
    case Drag::kZoom:
      scene_.zoom(std::pow(1.01, -d.y()));
      break;
    case Drag::kPan:
      scene_.pan(d.x(), d.y(), size);
      break;
    case Drag::kNone:
      break;
  }
  update();
}

void View3DWidget::mouseReleaseEvent(QMouseEvent*) {
  drag_ = Drag::kNone;
}

void View3DWidget::mouseDoubleClickEvent(QMouseEvent*) {
  emit doubleClicked();
}

void View3DWidget::wheelEvent(QWheelEvent* event) {
  scene_.zoom(std::pow(1.1, event->angleDelta().y() / 120.0));
  update();
}

void View3DWidget::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_R) {
    scene_.resetCamera();
    update();
    return;
  }
  VtkHostWidget::keyPressEvent(event);
}

}  // namespace tessera::ui
