// One 2D view of the study: which plane, which slice, zoom and pan, and the
// exact mappings between screen pixels, the voxel grid and patient
// coordinates (LPS millimetres, core/geometry.h).
//
// A plane is shown along the voxel axes closest to it (no resampling, as in
// ITK-SNAP), turned and flipped so that the screen follows the radiological
// convention whatever the file's direction matrix: axial seen from the feet
// (patient's left on screen right, anterior up), coronal seen from the front
// (left on the right, superior up), sagittal seen from the patient's left
// (anterior on the left, superior up). Pixels are square in millimetres, so
// anisotropic spacing never stretches anatomy. Orientation letters are
// computed from the actual directions, so an oblique or unusual volume shows
// what its screen axes really point to. Toolkit-free.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/geometry.h"

namespace tessera::ui {

enum class Plane { kAxial = 0, kCoronal = 1, kSagittal = 2 };
constexpr int kPlaneCount = 3;
const char* planeName(Plane plane);

// Screen columns follow voxel axis `u` (reversed when flipU), screen rows
// (top to bottom) follow axis `v` (reversed when flipV); slices are taken
// along axis `normal`, whose index grows towards the patient by
// `normalSign` × the plane's forward direction (superior for axial,
// anterior for coronal, left for sagittal).
struct SliceAxes {
  int u = 0, v = 1, normal = 2;
  bool flipU = false, flipV = false;
  int normalSign = 1;
};
SliceAxes sliceAxesFor(Plane plane, const Mat3& direction);

// Letters for an LPS direction, strongest component first: "L", "A", "S"...;
// components above 0.2 (about 12° of obliquity) add a second or third letter,
// e.g. "LA" for an axis between left and anterior.
std::string orientationLetters(const Vec3& lpsDirection);

struct ScreenPoint {
  double x = 0.0, y = 0.0;  // widget pixels, y down
};

// What lies under a screen point.
struct Probe {
  std::array<std::int64_t, 3> voxel{0, 0, 0};  // nearest voxel (i, j, k)
  Vec3 worldMm{0, 0, 0};                       // LPS mm of the point itself
};

class SliceViewModel {
 public:
  explicit SliceViewModel(Plane plane = Plane::kAxial);

  Plane plane() const { return plane_; }
  // A new study: axes from its direction, slice in the middle, view reset.
  void setGeometry(const Geometry& geometry);
  bool hasGeometry() const { return hasGeometry_; }
  const Geometry& geometry() const { return geometry_; }
  const SliceAxes& axes() const { return axes_; }

  // Voxels across and down the displayed slice, and their size in mm.
  std::int64_t columns() const;
  std::int64_t rows() const;
  double columnSpacingMm() const { return geometry_.spacingMm[axes_.u]; }
  double rowSpacingMm() const { return geometry_.spacingMm[axes_.v]; }

  std::int64_t slice() const { return slice_; }
  std::int64_t sliceCount() const;
  void setSlice(std::int64_t slice);  // clamped to the volume

  void setViewport(int widthPixels, int heightPixels);
  int viewportWidth() const { return width_; }
  int viewportHeight() const { return height_; }
  // 1 fits the whole slice in the viewport; larger magnifies.
  double zoom() const { return zoom_; }
  double pixelsPerMm() const;
  // Multiplies the zoom, keeping the point under `anchor` fixed on screen.
  void zoomAt(const ScreenPoint& anchor, double factor);
  void panByPixels(double dx, double dy);
  void resetView();

  // Display millimetres: the slice as drawn, origin at its top-left outer
  // corner, x right, y down.
  ScreenPoint screenFromDisplayMm(double xMm, double yMm) const;
  std::array<double, 2> displayMmFromScreen(const ScreenPoint& p) const;
  // Where the slice image (columns × rows pixels) lands on screen:
  // top-left corner and size in screen pixels.
  std::array<double, 4> imageRectOnScreen() const;

  // Continuous voxel index (i, j, k) of a screen point on the current slice;
  // integer values are voxel centres.
  Vec3 voxelFromScreen(const ScreenPoint& p) const;
  ScreenPoint screenFromVoxel(const Vec3& ijk) const;
  Vec3 worldFromScreen(const ScreenPoint& p) const;
  ScreenPoint screenFromWorld(const Vec3& lpsMm) const;
  // The voxel under a screen point, or nothing outside the volume.
  std::optional<Probe> probe(const ScreenPoint& p) const;

  // Letters at the middle of each edge of the view: left, right, top, bottom.
  std::array<std::string, 4> edgeLetters() const;

 private:
  Plane plane_;
  Geometry geometry_;
  bool hasGeometry_ = false;
  SliceAxes axes_;
  std::int64_t slice_ = 0;
  int width_ = 1, height_ = 1;
  double zoom_ = 1.0;
  double centreXMm_ = 0.0, centreYMm_ = 0.0;  // display mm at the viewport centre
};

}  // namespace tessera::ui
