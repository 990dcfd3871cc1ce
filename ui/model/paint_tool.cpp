#include "ui/model/paint_tool.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace tessera::ui {

std::vector<std::int64_t> brushVoxels(const SliceViewModel& view, const ScreenPoint& centre,
                                      double radiusMm) {
  std::vector<std::int64_t> out;
  if (!view.hasGeometry()) return out;
  const Geometry& g = view.geometry();
  const SliceAxes& axes = view.axes();
  const std::array<std::int64_t, 3> stride{1, g.size[0], g.size[0] * g.size[1]};
  const Vec3 c = view.voxelFromScreen(centre);
  const double su = view.columnSpacingMm(), sv = view.rowSpacingMm();
  const double cu = c[axes.u], cv = c[axes.v];
  const std::int64_t nu = g.size[axes.u], nv = g.size[axes.v];
  const std::int64_t base = view.slice() * stride[axes.normal];
  const auto add = [&](std::int64_t iu, std::int64_t iv) {
    out.push_back(base + iu * stride[axes.u] + iv * stride[axes.v]);
  };

  const std::int64_t u0 = std::max<std::int64_t>(0, std::int64_t(std::floor(cu - radiusMm / su)));
  const std::int64_t u1 =
      std::min<std::int64_t>(nu - 1, std::int64_t(std::ceil(cu + radiusMm / su)));
  const std::int64_t v0 = std::max<std::int64_t>(0, std::int64_t(std::floor(cv - radiusMm / sv)));
  const std::int64_t v1 =
      std::min<std::int64_t>(nv - 1, std::int64_t(std::ceil(cv + radiusMm / sv)));
  const std::int64_t nearestU = std::int64_t(std::floor(cu + 0.5));
  const std::int64_t nearestV = std::int64_t(std::floor(cv + 0.5));
  bool hasNearest = false;
  for (std::int64_t iv = v0; iv <= v1; ++iv)
    for (std::int64_t iu = u0; iu <= u1; ++iu) {
      const double du = (iu - cu) * su, dv = (iv - cv) * sv;
      if (du * du + dv * dv <= radiusMm * radiusMm) {
        add(iu, iv);
        hasNearest |= iu == nearestU && iv == nearestV;
      }
    }
  if (!hasNearest && nearestU >= 0 && nearestU < nu && nearestV >= 0 && nearestV < nv)
    add(nearestU, nearestV);
  return out;
}

void PaintTool::begin(ImageDocument& document, const SliceViewModel& view, const ScreenPoint& at,
                      const BrushSettings& brush) {
  if (active()) end();
  document_ = &document;
  view_ = &view;
  brush_ = brush;
  last_ = at;
  document.beginEdit((brush.mode == BrushMode::kPaint ? "Paint " : "Erase ") +
                     document.labels().table.nameOf(brush.label));
  stamp(at);
}

void PaintTool::moveTo(const ScreenPoint& to) {
  if (!active()) return;
  // Steps of a quarter of the brush diameter on screen keep the stroke solid.
  const double stepPixels = std::max(1.0, brush_.radiusMm * view_->pixelsPerMm() / 2.0);
  const double dx = to.x - last_.x, dy = to.y - last_.y;
  const int steps = std::max(1, static_cast<int>(std::ceil(std::hypot(dx, dy) / stepPixels)));
  for (int s = 1; s <= steps; ++s) stamp({last_.x + dx * s / steps, last_.y + dy * s / steps});
  last_ = to;
}

const Edit* PaintTool::end() {
  if (!active()) return nullptr;
  const Edit* edit = document_->endEdit();
  document_ = nullptr;
  view_ = nullptr;
  return edit;
}

void PaintTool::stamp(const ScreenPoint& at) {
  const std::uint8_t* labels = document_->labels().labels.data();
  for (std::int64_t index : brushVoxels(*view_, at, brush_.radiusMm)) {
    if (brush_.mode == BrushMode::kPaint)
      document_->setLabel(index, brush_.label);
    else if (labels[index] == brush_.label)
      document_->setLabel(index, 0);
  }
}

}  // namespace tessera::ui
