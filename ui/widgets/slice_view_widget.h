// A 2D slice view: paints the image the view model renders, scaled to the
// screen with square pixels, plus crosshair, orientation letters and the
// slice / window read-outs, and forwards mouse and keys to the model.
// Left button: the current tool (crosshair, window/level, paint, erase);
// middle or Shift + left: pan; right: window/level; wheel: slices;
// Ctrl + wheel: zoom at the cursor; double click: maximise.
#pragma once

#include <QImage>
#include <QPointF>
#include <QWidget>

#include "ui/model/workstation_model.h"

namespace tessera::ui {

class SliceViewWidget : public QWidget {
  Q_OBJECT

 public:
  SliceViewWidget(WorkstationModel& model, Plane plane, QWidget* parent = nullptr);
  Plane plane() const { return plane_; }
  // Called when the model changed.
  void refresh(unsigned changes);
  // Screen position (widget pixels) of the centre of voxel (i, j, k) as drawn.
  QPointF screenPointOfVoxel(const Vec3& ijk) const;
  void setCrosshairVisible(bool visible);

 signals:
  void cursorInfoChanged(const QString& text);
  void doubleClicked();

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void leaveEvent(QEvent* event) override;

 private:
  enum class Drag { kNone, kCrosshair, kWindowLevel, kPaint, kPan };
  void updateImage();
  void reportCursor(const QPointF& position);
  void drawOverlayText(class QPainter& painter);

  WorkstationModel& model_;
  Plane plane_;
  SliceImage slice_;
  QImage image_;
  bool imageStale_ = true;
  std::int64_t renderedSlice_ = -1;
  bool crosshairVisible_ = true;
  Drag drag_ = Drag::kNone;
  QPointF pressPosition_, lastPosition_, mousePosition_;
  bool mouseInside_ = false;
  WindowLevel dragStartWindow_;
};

}  // namespace tessera::ui
