#include "ui/widgets/slice_view_widget.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QWheelEvent>

#include <cmath>

namespace tessera::ui {

namespace {

// Slicer's plane colours: axial red, coronal green, sagittal yellow. Each
// crosshair line is drawn in the colour of the plane it represents.
QColor planeColour(Plane plane) {
  switch (plane) {
    case Plane::kAxial:
      return QColor(230, 80, 70);
    case Plane::kCoronal:
      return QColor(110, 200, 90);
    case Plane::kSagittal:
      return QColor(235, 200, 60);
  }
  return Qt::white;
}

void drawShadowedText(QPainter& painter, const QRectF& rect, int flags, const QString& text,
                      const QColor& colour = QColor(235, 235, 235)) {
  painter.setPen(QColor(0, 0, 0, 200));
  painter.drawText(rect.translated(1, 1), flags, text);
  painter.setPen(colour);
  painter.drawText(rect, flags, text);
}

ScreenPoint toScreen(const QPointF& p) {
  return {p.x(), p.y()};
}

}  // namespace

SliceViewWidget::SliceViewWidget(WorkstationModel& model, Plane plane, QWidget* parent)
    : QWidget(parent), model_(model), plane_(plane) {
  setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);
  setAttribute(Qt::WA_OpaquePaintEvent);
  setMinimumSize(120, 120);
  setCursor(Qt::CrossCursor);
}

void SliceViewWidget::refresh(unsigned changes) {
  // Moving the crosshair within this view's slice only moves the lines.
  if (changes & (kChangeStudy | kChangeLabels | kChangeWindow | kChangeOverlay)) imageStale_ = true;
  if ((changes & kChangeCursor) && model_.view(plane_).slice() != renderedSlice_)
    imageStale_ = true;
  update();
}

void SliceViewWidget::setCrosshairVisible(bool visible) {
  crosshairVisible_ = visible;
  update();
}

QPointF SliceViewWidget::screenPointOfVoxel(const Vec3& ijk) const {
  const ScreenPoint p = model_.view(plane_).screenFromVoxel(ijk);
  return {p.x, p.y};
}

void SliceViewWidget::resizeEvent(QResizeEvent*) {
  model_.setViewport(plane_, width(), height());
}

void SliceViewWidget::updateImage() {
  slice_ = model_.renderView(plane_);
  renderedSlice_ = model_.view(plane_).slice();
  if (slice_.width > 0)
    image_ = QImage(reinterpret_cast<const uchar*>(slice_.pixels.data()), slice_.width,
                    slice_.height, slice_.width * 4, QImage::Format_RGB32);
  else
    image_ = QImage();
  imageStale_ = false;
}

void SliceViewWidget::paintEvent(QPaintEvent*) {
  if (imageStale_) updateImage();
  QPainter painter(this);
  painter.fillRect(rect(), Qt::black);
  if (!model_.hasImage() || image_.isNull()) {
    painter.setPen(QColor(120, 120, 120));
    painter.drawText(
        rect(), Qt::AlignCenter,
        QString("%1\n\nOpen a CT (Ctrl+O) or drop a file here").arg(planeName(plane_)));
    return;
  }
  const SliceViewModel& view = model_.view(plane_);
  // Nearest-neighbour scaling: every voxel is a crisp square on screen.
  painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
  const auto r = view.imageRectOnScreen();
  painter.drawImage(QRectF(r[0], r[1], r[2], r[3]), image_);

  painter.setRenderHint(QPainter::Antialiasing, true);
  if (crosshairVisible_) {
    // The two lines are the other planes through the crosshair, with a gap
    // around the point itself so the voxel under it stays visible.
    const ScreenPoint c = view.screenFromWorld(model_.crosshairMm());
    const Plane others[3][2] = {{Plane::kSagittal, Plane::kCoronal},
                                {Plane::kSagittal, Plane::kAxial},
                                {Plane::kCoronal, Plane::kAxial}};
    const Plane vertical = others[static_cast<int>(plane_)][0];
    const Plane horizontal = others[static_cast<int>(plane_)][1];
    const double gap = 8.0;
    QPen pen(planeColour(vertical), 1.0);
    painter.setPen(pen);
    painter.drawLine(QPointF(c.x, 0), QPointF(c.x, c.y - gap));
    painter.drawLine(QPointF(c.x, c.y + gap), QPointF(c.x, height()));
    pen.setColor(planeColour(horizontal));
    painter.setPen(pen);
    painter.drawLine(QPointF(0, c.y), QPointF(c.x - gap, c.y));
    painter.drawLine(QPointF(c.x + gap, c.y), QPointF(width(), c.y));
  }
  const Tool tool = model_.tool();
  if (mouseInside_ && (tool == Tool::kPaint || tool == Tool::kErase)) {
    const double radius = std::max(1.0, model_.brush().radiusMm * view.pixelsPerMm());
    painter.setPen(QPen(tool == Tool::kPaint ? QColor(255, 255, 255, 220) : QColor(255, 120, 120),
                        1.0, Qt::DashLine));
    painter.setBrush(Qt::NoBrush);
    painter.drawEllipse(mousePosition_, radius, radius);
  }
  drawOverlayText(painter);
}

void SliceViewWidget::drawOverlayText(QPainter& painter) {
  const SliceViewModel& view = model_.view(plane_);
  QFont font = painter.font();
  font.setPointSizeF(std::max(8.0, font.pointSizeF()));
  font.setBold(true);
  painter.setFont(font);
  const auto letters = view.edgeLetters();
  const double m = 6;
  const QRectF area = QRectF(rect()).adjusted(m, m, -m, -m);
  const QColor letterColour(255, 214, 120);
  drawShadowedText(painter, area, Qt::AlignLeft | Qt::AlignVCenter,
                   QString::fromStdString(letters[0]), letterColour);
  drawShadowedText(painter, area, Qt::AlignRight | Qt::AlignVCenter,
                   QString::fromStdString(letters[1]), letterColour);
  drawShadowedText(painter, area, Qt::AlignTop | Qt::AlignHCenter,
                   QString::fromStdString(letters[2]), letterColour);
  drawShadowedText(painter, area, Qt::AlignBottom | Qt::AlignHCenter,
                   QString::fromStdString(letters[3]), letterColour);

  font.setBold(false);
  painter.setFont(font);
  const WindowLevel& wl = model_.windowLevel();
  drawShadowedText(painter, area, Qt::AlignTop | Qt::AlignLeft,
                   QString("%1\nSlice %2 / %3")
                       .arg(planeName(plane_))
                       .arg(view.slice() + 1)
                       .arg(view.sliceCount()),
                   planeColour(plane_).lighter(130));
  drawShadowedText(painter, area, Qt::AlignBottom | Qt::AlignLeft,
                   QString("W %1  L %2").arg(std::lround(wl.window)).arg(std::lround(wl.level)));
  const Geometry& g = view.geometry();
  drawShadowedText(painter, area, Qt::AlignBottom | Qt::AlignRight,
                   QString("%1 mm  \u00B7  zoom %2%")
                       .arg(g.spacingMm[view.axes().normal], 0, 'f', 2)
                       .arg(std::lround(view.zoom() * 100)));
}

void SliceViewWidget::reportCursor(const QPointF& position) {
  const auto info = model_.cursorInfo(plane_, toScreen(position));
  emit cursorInfoChanged(info ? QString::fromStdString(describeCursor(*info)) : QString());
}

void SliceViewWidget::mousePressEvent(QMouseEvent* event) {
  setFocus(Qt::MouseFocusReason);
  const QPointF p = event->position();
  pressPosition_ = lastPosition_ = p;
  dragStartWindow_ = model_.windowLevel();
  const bool shift = event->modifiers() & Qt::ShiftModifier;
  if (event->button() == Qt::MiddleButton || (event->button() == Qt::LeftButton && shift)) {
    drag_ = Drag::kPan;
  } else if (event->button() == Qt::RightButton) {
    drag_ = Drag::kWindowLevel;
  } else if (event->button() == Qt::LeftButton) {
    switch (model_.tool()) {
      case Tool::kCrosshair:
        drag_ = Drag::kCrosshair;
        model_.setCrosshairFromScreen(plane_, toScreen(p));
        break;
      case Tool::kWindowLevel:
        drag_ = Drag::kWindowLevel;
        break;
      case Tool::kPaint:
      case Tool::kErase:
        drag_ = model_.beginStroke(plane_, toScreen(p)) ? Drag::kPaint : Drag::kNone;
        break;
    }
  }
}

void SliceViewWidget::mouseMoveEvent(QMouseEvent* event) {
  const QPointF p = event->position();
  mousePosition_ = p;
  mouseInside_ = true;
  switch (drag_) {
    case Drag::kCrosshair:
      model_.setCrosshairFromScreen(plane_, toScreen(p));
      break;
    case Drag::kWindowLevel: {
      const QPointF d = p - pressPosition_;
      model_.setWindowLevel(dragWindowLevel(dragStartWindow_, d.x(), d.y()));
      break;
    }
    case Drag::kPaint:
      model_.continueStroke(toScreen(p));
      break;
    case Drag::kPan: {
      const QPointF d = p - lastPosition_;
      model_.panView(plane_, d.x(), d.y());
      break;
    }
    case Drag::kNone:
      break;
  }
  lastPosition_ = p;
  reportCursor(p);
  if (model_.tool() == Tool::kPaint || model_.tool() == Tool::kErase) update();
}

void SliceViewWidget::mouseReleaseEvent(QMouseEvent*) {
  if (drag_ == Drag::kPaint) model_.endStroke();
  drag_ = Drag::kNone;
}

void SliceViewWidget::mouseDoubleClickEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && model_.tool() != Tool::kPaint &&
      model_.tool() != Tool::kErase)
    emit doubleClicked();
}

void SliceViewWidget::wheelEvent(QWheelEvent* event) {
  const int steps = event->angleDelta().y() / 120;
  if (steps == 0) return;
  if (event->modifiers() & Qt::ControlModifier)
    model_.zoomView(plane_, toScreen(event->position()), std::pow(1.2, steps));
  else
    model_.scroll(plane_, steps);
  reportCursor(event->position());
}

void SliceViewWidget::keyPressEvent(QKeyEvent* event) {
  switch (event->key()) {
    case Qt::Key_Up:
    case Qt::Key_PageUp:
      model_.scroll(plane_, 1);
      break;
    case Qt::Key_Down:
    case Qt::Key_PageDown:
      model_.scroll(plane_, -1);
      break;
    case Qt::Key_Plus:
    case Qt::Key_Equal:
      model_.zoomView(plane_, {width() / 2.0, height() / 2.0}, 1.25);
      break;
    case Qt::Key_Minus:
      model_.zoomView(plane_, {width() / 2.0, height() / 2.0}, 0.8);
      break;
    case Qt::Key_R:
      model_.resetView(plane_);
      break;
    default:
      QWidget::keyPressEvent(event);
      return;
  }
}

void SliceViewWidget::leaveEvent(QEvent*) {
  mouseInside_ = false;
  emit cursorInfoChanged(QString());
  update();
}

}  // namespace tessera::ui
