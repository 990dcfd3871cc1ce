#include "ui/model/slice_view_model.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tessera::ui {

namespace {

struct PlaneFrame {
  Vec3 right, down, forward;  // LPS directions of screen right, screen down, next slice
};

PlaneFrame frameFor(Plane plane) {
  switch (plane) {
    case Plane::kAxial:
      return {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};  // L, P, S
    case Plane::kCoronal:
      return {{1, 0, 0}, {0, 0, -1}, {0, -1, 0}};  // L, I, A
    case Plane::kSagittal:
      return {{0, 1, 0}, {0, 0, -1}, {1, 0, 0}};  // P, I, L
  }
  return {};
}

Vec3 column(const Mat3& m, int c) {
  return {m[c], m[3 + c], m[6 + c]};
}
double dot(const Vec3& a, const Vec3& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
Vec3 scaled(const Vec3& a, double s) {
  return {a[0] * s, a[1] * s, a[2] * s};
}

}  // namespace

const char* planeName(Plane plane) {
  switch (plane) {
    case Plane::kAxial:
      return "Axial";
    case Plane::kCoronal:
      return "Coronal";
    case Plane::kSagittal:
      return "Sagittal";
  }
  return "?";
}

SliceAxes sliceAxesFor(Plane plane, const Mat3& direction) {
  const PlaneFrame f = frameFor(plane);
  static const int kPermutations[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                          {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  // The assignment of voxel axes to (right, down, forward) that best matches
  // the plane; exact for the 48 axis-aligned orientations.
  double best = -1.0;
  SliceAxes axes;
  for (const auto& p : kPermutations) {
    const double score = std::abs(dot(column(direction, p[0]), f.right)) +
                         std::abs(dot(column(direction, p[1]), f.down)) +
                         std::abs(dot(column(direction, p[2]), f.forward));
    if (score > best + 1e-9) {
      best = score;
      axes.u = p[0];
      axes.v = p[1];
      axes.normal = p[2];
    }
  }
  axes.flipU = dot(column(direction, axes.u), f.right) < 0;
  axes.flipV = dot(column(direction, axes.v), f.down) < 0;
  axes.normalSign = dot(column(direction, axes.normal), f.forward) < 0 ? -1 : 1;
  return axes;
}

std::string orientationLetters(const Vec3& d) {
  static const char kPositive[3] = {'L', 'P', 'S'};
  static const char kNegative[3] = {'R', 'A', 'I'};
  const double norm = std::sqrt(dot(d, d));
  if (!(norm > 0)) return "?";
  std::vector<int> order{0, 1, 2};
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return std::abs(d[a]) > std::abs(d[b]); });
  std::string letters;
  for (int axis : order) {
    const double c = d[axis] / norm;
    if (!letters.empty() && std::abs(c) <= 0.2) break;
    letters += c >= 0 ? kPositive[axis] : kNegative[axis];
  }
  return letters;
}

SliceViewModel::SliceViewModel(Plane plane) : plane_(plane) {}

void SliceViewModel::setGeometry(const Geometry& geometry) {
  geometry_ = geometry;
  hasGeometry_ = true;
  axes_ = sliceAxesFor(plane_, geometry.direction);
  slice_ = sliceCount() / 2;
  resetView();
}

std::int64_t SliceViewModel::columns() const {
  return geometry_.size[axes_.u];
}
std::int64_t SliceViewModel::rows() const {
  return geometry_.size[axes_.v];
}
std::int64_t SliceViewModel::sliceCount() const {
  return geometry_.size[axes_.normal];
}

void SliceViewModel::setSlice(std::int64_t slice) {
  slice_ = std::clamp<std::int64_t>(slice, 0, std::max<std::int64_t>(sliceCount() - 1, 0));
}

void SliceViewModel::setViewport(int widthPixels, int heightPixels) {
  width_ = std::max(widthPixels, 1);
  height_ = std::max(heightPixels, 1);
}

double SliceViewModel::pixelsPerMm() const {
  const double widthMm = static_cast<double>(columns()) * columnSpacingMm();
  const double heightMm = static_cast<double>(rows()) * rowSpacingMm();
  if (!(widthMm > 0) || !(heightMm > 0)) return 1.0;
  return std::min(width_ / widthMm, height_ / heightMm) * zoom_;
}

void SliceViewModel::zoomAt(const ScreenPoint& anchor, double factor) {
  if (!(factor > 0) || !std::isfinite(factor)) return;
  const auto fixed = displayMmFromScreen(anchor);
  zoom_ = std::clamp(zoom_ * factor, 0.1, 64.0);
  const double scale = pixelsPerMm();
  centreXMm_ = fixed[0] - (anchor.x - width_ / 2.0) / scale;
  centreYMm_ = fixed[1] - (anchor.y - height_ / 2.0) / scale;
}

void SliceViewModel::panByPixels(double dx, double dy) {
  const double scale = pixelsPerMm();
  centreXMm_ -= dx / scale;
  centreYMm_ -= dy / scale;
}

void SliceViewModel::resetView() {
  zoom_ = 1.0;
  centreXMm_ = static_cast<double>(columns()) * columnSpacingMm() / 2.0;
  centreYMm_ = static_cast<double>(rows()) * rowSpacingMm() / 2.0;
}

ScreenPoint SliceViewModel::screenFromDisplayMm(double xMm, double yMm) const {
  const double scale = pixelsPerMm();
  return {width_ / 2.0 + (xMm - centreXMm_) * scale, height_ / 2.0 + (yMm - centreYMm_) * scale};
}

std::array<double, 2> SliceViewModel::displayMmFromScreen(const ScreenPoint& p) const {
  const double scale = pixelsPerMm();
  return {centreXMm_ + (p.x - width_ / 2.0) / scale, centreYMm_ + (p.y - height_ / 2.0) / scale};
}

std::array<double, 4> SliceViewModel::imageRectOnScreen() const {
  const ScreenPoint topLeft = screenFromDisplayMm(0.0, 0.0);
  const double scale = pixelsPerMm();
  return {topLeft.x, topLeft.y, static_cast<double>(columns()) * columnSpacingMm() * scale,
          static_cast<double>(rows()) * rowSpacingMm() * scale};
}

Vec3 SliceViewModel::voxelFromScreen(const ScreenPoint& p) const {
  const auto mm = displayMmFromScreen(p);
  // Column c covers display mm [c, c + 1) × spacing; its centre is voxel c
  // (or columns - 1 - c when flipped).
  double iu = mm[0] / columnSpacingMm() - 0.5;
  double iv = mm[1] / rowSpacingMm() - 0.5;
  if (axes_.flipU) iu = static_cast<double>(columns() - 1) - iu;
  if (axes_.flipV) iv = static_cast<double>(rows() - 1) - iv;
  Vec3 ijk{0, 0, 0};
  ijk[axes_.u] = iu;
  ijk[axes_.v] = iv;
  ijk[axes_.normal] = static_cast<double>(slice_);
  return ijk;
}

ScreenPoint SliceViewModel::screenFromVoxel(const Vec3& ijk) const {
  double iu = ijk[axes_.u], iv = ijk[axes_.v];
  if (axes_.flipU) iu = static_cast<double>(columns() - 1) - iu;
  if (axes_.flipV) iv = static_cast<double>(rows() - 1) - iv;
  return screenFromDisplayMm((iu + 0.5) * columnSpacingMm(), (iv + 0.5) * rowSpacingMm());
}

Vec3 SliceViewModel::worldFromScreen(const ScreenPoint& p) const {
  return geometry_.worldFromVoxel(voxelFromScreen(p));
}

ScreenPoint SliceViewModel::screenFromWorld(const Vec3& lpsMm) const {
  return screenFromVoxel(geometry_.voxelFromWorld(lpsMm));
}

std::optional<Probe> SliceViewModel::probe(const ScreenPoint& p) const {
  if (!hasGeometry_) return std::nullopt;
  const Vec3 ijk = voxelFromScreen(p);
  Probe probe;
  for (int a = 0; a < 3; ++a) {
    const double nearest = std::floor(ijk[a] + 0.5);
    if (nearest < 0 || nearest >= static_cast<double>(geometry_.size[a])) return std::nullopt;
    probe.voxel[a] = static_cast<std::int64_t>(nearest);
  }
  probe.worldMm = geometry_.worldFromVoxel(ijk);
  return probe;
}

std::array<std::string, 4> SliceViewModel::edgeLetters() const {
  const Vec3 right = scaled(column(geometry_.direction, axes_.u), axes_.flipU ? -1.0 : 1.0);
  const Vec3 down = scaled(column(geometry_.direction, axes_.v), axes_.flipV ? -1.0 : 1.0);
  return {orientationLetters(scaled(right, -1.0)), orientationLetters(right),
          orientationLetters(scaled(down, -1.0)), orientationLetters(down)};
}

}  // namespace tessera::ui
